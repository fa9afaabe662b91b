"""The home page's sections: portal shows its own (recent jobs), each app registers the rest
from its ``AppConfig.ready()``.

``register(key, slot=..., template=..., context=..., order=...)``: the slot says where the
section goes — ``"actions"`` (buttons in the page header), ``"stats"`` (the figures under it) or
``"cards"`` (the two-column grid). ``context(request)`` returns what the template needs, or
``None`` when the section has nothing to show this person. Every section's values join the one
page context, so the names must not clash.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

SLOTS = ("actions", "stats", "cards")


@dataclass(frozen=True)
class HomeSection:
    key: str
    slot: str
    template: str
    context: Callable[[HttpRequest], dict | None]
    order: int


_SECTIONS: dict[str, HomeSection] = {}


def register(
    key: str, *, slot: str, template: str, context: Callable[[HttpRequest], dict | None], order: int
) -> None:
    if slot not in SLOTS:
        raise ValueError(f"“{slot}” is not a home page slot: {', '.join(SLOTS)}.")
    if key in _SECTIONS:
        raise ValueError(f"A home section “{key}” is already registered.")
    _SECTIONS[key] = HomeSection(key=key, slot=slot, template=template, context=context, order=order)


def home_context(request: HttpRequest) -> dict:
    """The sections to show, by slot (``home_sections``), and their values merged."""
    slots: dict[str, list[HomeSection]] = {slot: [] for slot in SLOTS}
    values: dict = {}
    for section in sorted(_SECTIONS.values(), key=lambda section: section.order):
        section_values = section.context(request)
        if section_values is None:
            continue
        clash = values.keys() & section_values.keys()
        if clash:
            raise ValueError(f"Home section “{section.key}” reuses {', '.join(sorted(clash))}.")
        values.update(section_values)
        slots[section.slot].append(section)
    return {"home_sections": slots, **values}
