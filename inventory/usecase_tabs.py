"""The use-case page's tabs: inventory draws its own, the apps above it register theirs.

An app adds a tab from its ``AppConfig.ready()`` with ``register(key, label, order=...,
template=..., context=...)``: ``context(request, use_case)`` returns what its template needs, and
runs only when that tab is open. ``fill(key, template=..., context=...)`` gives a tab inventory
declares (deployments, findings) the content an app above it owns. ``register_facts(provider)`` adds values every tab's header may
show (``provider(request, use_case) -> dict``), such as a badge another app owns.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from inventory.models import UseCase

TabContext = Callable[[HttpRequest, UseCase], dict]


@dataclass(frozen=True)
class UseCaseTab:
    key: str
    label: str
    order: int
    template: str = ""  # empty: inventory/usecase_detail.html draws the tab itself
    context: TabContext | None = None


_TABS: dict[str, UseCaseTab] = {}
_FACTS: list[TabContext] = []


def register(
    key: str, label: str, *, order: int, template: str = "", context: TabContext | None = None
) -> None:
    if key in _TABS:
        raise ValueError(f"A use-case tab “{key}” is already registered.")
    _TABS[key] = UseCaseTab(key=key, label=label, order=order, template=template, context=context)


def fill(key: str, *, template: str, context: TabContext | None = None) -> None:
    """Give a tab inventory declares (its place and label: "deployments", "findings") the template
    and context of the app above that owns its content."""
    tab = _TABS[key]
    if tab.template:
        raise ValueError(f"The use-case tab “{key}” is already filled by {tab.template}.")
    _TABS[key] = UseCaseTab(key=key, label=tab.label, order=tab.order, template=template, context=context)


def register_facts(provider: TabContext) -> None:
    _FACTS.append(provider)


def tabs() -> list[UseCaseTab]:
    return sorted(_TABS.values(), key=lambda tab: tab.order)


def tab_for(key: str) -> UseCaseTab | None:
    return _TABS.get(key)


def header_facts(request: HttpRequest, use_case: UseCase) -> dict:
    facts: dict = {}
    for provider in _FACTS:
        facts.update(provider(request, use_case))
    return facts
