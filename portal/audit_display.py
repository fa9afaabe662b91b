"""The audit trail as people read it: names instead of ids, labels instead of keys.

The trail stores raw values (``accountable_owner: 9``, ``lifecycle_stage: 1 → 2``, a maturity
result dict) because those are what its hashes cover and what exports hand to auditors'
tools. Pages show them through :func:`readable_changes`, which resolves each field to its
verbose name, each foreign key to the object's name (through ``restrict()``: a name the
reader may not see stays a number), each choice to its label and each known key (a role, a
maturity check) to its title. Exports keep the raw values (``portal.views.audit``).

Higher apps teach the trail their keys with :func:`register_key_labels` from their
``AppConfig.ready()`` (approvals registers maturity dimensions and checks).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.text import capfirst

from portal.permissions import restrict
from portal.roles import ROLE_LABELS

# Keys that appear inside JSON values (dict keys, list items): their titles.
_KEY_LABELS: dict[str, str] = dict(ROLE_LABELS)

# Long JSON values (a maturity result lists every check) are cut, the export has them whole.
MAX_ITEMS = 8


def register_key_labels(labels: Mapping[str, str]) -> None:
    """Titles for keys that appear inside audited JSON values."""
    _KEY_LABELS.update(labels)


def key_label(key) -> str:
    return _KEY_LABELS.get(key, key) if isinstance(key, str) else str(key)


@dataclass
class ReadableChange:
    field: str
    before: str
    after: str


def _field(model, name: str):
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _related_ids(value) -> list:
    if isinstance(value, list):
        return [item for item in value if isinstance(item, int | str)]
    return [value] if isinstance(value, int | str) and value != "" else []


def _names(user, wanted: dict[type[models.Model], set]) -> dict[tuple, str]:
    """One query per related model: the names of the objects the reader may see."""
    names = {}
    for related, ids in wanted.items():
        queryset = related._default_manager.filter(pk__in=ids)
        try:
            queryset = restrict(queryset, user)
        except ImproperlyConfigured:
            continue  # no policy (e.g. permission rows): the number is all we show
        for obj in queryset:
            names[(related, str(obj.pk))] = str(obj)
    return names


def _scalar(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return key_label(value) if isinstance(value, str) else str(value)


def _json(value, *, nested: bool = False) -> str:
    if isinstance(value, dict):
        parts = []
        for key, item in list(value.items())[:MAX_ITEMS]:
            shown = _json(item, nested=True) if isinstance(item, dict | list) else _scalar(item)
            parts.append(f"{key_label(key)}: {shown}" if shown != "" else key_label(key))
        more = len(value) - MAX_ITEMS
        if nested:
            return "(" + ", ".join(parts) + (f", and {more} more" if more > 0 else "") + ")"
        return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    if isinstance(value, list):
        items = [
            _json(item) if isinstance(item, dict | list) else _scalar(item) for item in value[:MAX_ITEMS]
        ]
        more = len(value) - MAX_ITEMS
        return ", ".join(items) + (f", and {more} more" if more > 0 else "")
    return _scalar(value)


def _display(field, value, names: dict) -> str:
    if value is None or value == "":
        return ""
    if field is not None and field.is_relation and field.related_model is not None:
        shown = [names.get((field.related_model, str(pk)), f"#{pk}") for pk in _related_ids(value)]
        return ", ".join(shown)
    if field is not None and field.choices:
        choices = {str(key): label for key, label in field.flatchoices}
        if isinstance(value, list):
            return ", ".join(str(choices.get(str(item), key_label(item))) for item in value)
        return str(choices.get(str(value), value))
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        moment = parse_datetime(value)
        if isinstance(moment, datetime):
            return moment.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, str):
        return value  # text as written; only keys inside JSON values get titles
    return _json(value)


def _label(field, name: str) -> str:
    if field is not None and hasattr(field, "verbose_name"):
        return capfirst(str(field.verbose_name))
    return capfirst(name.replace("_", " "))


def readable_changes(entries: Iterable, *, user) -> list:
    """Attach ``readable_changes`` (a list of :class:`ReadableChange`) and ``kind_label`` to each
    entry and return them as a list. Related names cost one query per related model."""
    entries = list(entries)
    wanted: dict[type[models.Model], set] = defaultdict(set)
    for entry in entries:
        model = entry.content_type.model_class() if entry.content_type_id else None
        for name, change in (entry.changes or {}).items():
            field = _field(model, name)
            if field is not None and field.is_relation and field.related_model is not None:
                for side in ("before", "after"):
                    wanted[field.related_model].update(_related_ids((change or {}).get(side)))
    names = _names(user, wanted)
    for entry in entries:
        model = entry.content_type.model_class() if entry.content_type_id else None
        rows = []
        for name, change in (entry.changes or {}).items():
            field = _field(model, name)
            change = change if isinstance(change, dict) else {"before": None, "after": change}
            rows.append(
                ReadableChange(
                    field=_label(field, name),
                    before=_display(field, change.get("before"), names),
                    after=_display(field, change.get("after"), names),
                )
            )
        entry.readable_changes = rows
        entry.kind_label = capfirst(model._meta.verbose_name) if model is not None else ""
    return entries
