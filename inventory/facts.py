"""What other apps know about a use case, for pages that show it whole.

An app above inventory registers a provider from its ``AppConfig.ready()``:
``facts.register("cost_so_far", provider)`` with ``provider(user, use_case)`` returning the value
that person may see. A page (the gate review, for one) reads ``facts.for_use_case(user, use_case)``
without importing the app that knows.
The other direction, "these facts changed", is ``inventory.signals.use_case_facts_changed``.
"""

from collections.abc import Callable

_PROVIDERS: dict[str, Callable] = {}


def register(name: str, provider: Callable) -> None:
    if name in _PROVIDERS:
        raise ValueError(f"A use-case fact “{name}” is already registered.")
    _PROVIDERS[name] = provider


def for_use_case(user, use_case) -> dict:
    return {name: provider(user, use_case) for name, provider in _PROVIDERS.items()}
