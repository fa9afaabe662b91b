"""Catalog as code: a use case as a YAML descriptor, in the Backstage style.

.. code-block:: yaml

    apiVersion: propylon.dev/v1
    kind: AIUseCase
    metadata:
      key: UC-0042            # optional on create
      name: Support chatbot
      tags: [support, genai]
      links: {repository: https://…, runbook: https://…, dashboard: https://…}
    spec:
      purpose: Answers customer questions from the help centre.
      owner: {team: support-automation, accountable: lena, technical: priya,
              businessSponsor: …, dataSteward: …, escalation: …}
      lifecycle: draft          # or proposed; later stages move only through gates
      aiKind: generative
      dataSensitivity: pii
      customerFacing: true
      humanOversight: in_the_loop
      visibility: normal

A field that is absent is left as it is; ``null`` (or an empty list) clears an owner role, a
link or the tags. Risk tier is not part of a descriptor: the risk classification sets it.

:func:`apply_descriptors` syncs a folder of descriptors: it validates every file first and then
writes in one transaction, so one bad file means nothing is written. Writes go through the
same services as the UI (``inventory.services.importing`` holds the shared planning core), and an
unchanged descriptor writes nothing at all: syncing the same folder twice is a no-op.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from inventory.models import UseCase
from inventory.services.importing import (
    ApplyFailed,
    Lookups,
    apply_plans,
    duplicate_errors,
    may_import,
    plan_intent,
    shorten,
)
from portal import audit
from portal.roles import Role

API_VERSION = "propylon.dev/v1"
KIND = "AIUseCase"
DESCRIPTOR_SUFFIXES = (".yaml", ".yml")
MAX_DESCRIPTOR_BYTES = 256 * 1024

# Where each field lives in a descriptor: (path, intent field as in the import's columns).
METADATA_FIELDS = {"key": "key", "name": "name", "tags": "tags", "links": None}
LINK_FIELDS = {"repository": "repository_url", "runbook": "runbook_url", "dashboard": "dashboard_url"}
SPEC_FIELDS = {
    "purpose": "purpose",
    "owner": None,
    "lifecycle": "stage",
    "aiKind": "ai_kind",
    "dataSensitivity": "data_sensitivity",
    "customerFacing": "customer_facing",
    "humanOversight": "human_oversight",
    "visibility": "visibility",
}
OWNER_FIELDS = {
    "team": "team",
    "accountable": "accountable_owner",
    "technical": "technical_owner",
    "businessSponsor": "business_sponsor",
    "dataSteward": "data_steward",
    "escalation": "escalation_contact",
}
PATHS = (
    {intent: f"metadata.{name}" for name, intent in METADATA_FIELDS.items() if intent}
    | {intent: f"metadata.links.{name}" for name, intent in LINK_FIELDS.items()}
    | {intent: f"spec.{name}" for name, intent in SPEC_FIELDS.items() if intent}
    | {intent: f"spec.owner.{name}" for name, intent in OWNER_FIELDS.items()}
)
REQUIRED_PATHS = (
    "metadata.name",
    "spec.purpose",
    "spec.owner.team",
    "spec.owner.accountable",
    "spec.aiKind",
    "spec.dataSensitivity",
)
# Only these hold a value that may be cleared with null; the others are text, choices or flags.
CLEARABLE = frozenset({"tags", *LINK_FIELDS.values(), *list(OWNER_FIELDS.values())[2:]})

__all__ = [
    "API_VERSION",
    "KIND",
    "DescriptorError",
    "FileOutcome",
    "SyncReport",
    "apply_descriptors",
    "descriptor_filename",
    "dump_descriptor",
    "parse_descriptor",
    "use_case_to_descriptor",
    "write_descriptors",
]


class DescriptorError(ValidationError):
    """A descriptor that cannot be used; each problem names the file and the field path."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__([_describe(source, path, message) for path, message in problems])

    def __str__(self) -> str:
        return "\n".join(self.messages)


def _describe(source: str, path: str, message: str) -> str:
    return f"{source}: {path}: {message}" if path else f"{source}: {message}"


#
# Use case → descriptor
#


def use_case_to_descriptor(use_case: UseCase) -> dict:
    """The descriptor of a use case, as plain data (what :func:`dump_descriptor` writes)."""
    metadata: dict[str, Any] = {"key": use_case.key, "name": use_case.name}
    if use_case.tags:
        metadata["tags"] = list(use_case.tags)
    links = {name: getattr(use_case, attribute) for name, attribute in LINK_FIELDS.items()}
    if any(links.values()):
        metadata["links"] = {name: url for name, url in links.items() if url}
    owner = {"team": use_case.owning_team.slug}
    for name, attribute in OWNER_FIELDS.items():
        if attribute != "team" and (person := getattr(use_case, attribute)) is not None:
            owner[name] = person.get_username()
    spec = {
        "purpose": use_case.purpose,
        "owner": owner,
        "lifecycle": use_case.lifecycle_stage.key if use_case.lifecycle_stage_id else "draft",
        "aiKind": use_case.ai_kind,
        "dataSensitivity": use_case.data_sensitivity,
        "customerFacing": use_case.customer_facing,
        "humanOversight": use_case.human_oversight,
        "visibility": use_case.visibility,
    }
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


class _FlowList(list):
    """Written inline, like ``tags: [support, genai]``."""


class _Dumper(yaml.SafeDumper):
    pass


def _represent_text(dumper: yaml.SafeDumper, text: str):
    style = "|" if "\n" in text else None  # purposes read best as a block
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)
_Dumper.add_representer(
    _FlowList,
    lambda dumper, items: dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=True),
)


def dump_descriptor(use_case: UseCase) -> str:
    data = use_case_to_descriptor(use_case)
    if "tags" in data["metadata"]:
        data["metadata"]["tags"] = _FlowList(data["metadata"]["tags"])
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def descriptor_filename(use_case: UseCase) -> str:
    """``UC-0042-support-chatbot.yaml``."""
    slug = slugify(use_case.name)[:60].strip("-")
    return f"{use_case.key}-{slug}.yaml" if slug else f"{use_case.key}.yaml"


def write_descriptors(use_cases, directory: Path) -> list[Path]:
    """Write one descriptor per use case into ``directory`` (created if missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for use_case in use_cases:
        path = directory / descriptor_filename(use_case)
        path.write_text(dump_descriptor(use_case), encoding="utf-8")
        written.append(path)
    return written


#
# Descriptor → intent
#

ALIAS_MESSAGE = (
    "YAML anchors and aliases (&name, *name) are not allowed in descriptors; write each value out in full."
)


class _AliasRefused(Exception):
    def __init__(self, mark):
        self.where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        super().__init__(self.where)


class _DescriptorLoader(yaml.SafeLoader):
    """The safe loader, refusing anchors and aliases.

    A few hundred bytes of nested aliases expand to gigabytes once the document is built (or
    printed in an error message); a descriptor is a handful of fields and never needs them.
    """

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _AliasRefused(event.start_mark)
        return super().compose_node(parent, index)


def parse_descriptor(text: str, source: str = "descriptor") -> dict:
    """Check a descriptor's shape and return what it asks for, keyed like the import's columns.

    Only fields present in the descriptor appear in the result. Raises :class:`DescriptorError`
    naming ``source`` and the field path of every problem. Whether the team, the people and
    the choices exist is checked when the descriptor is applied.
    """
    if len(text.encode("utf-8", errors="replace")) > MAX_DESCRIPTOR_BYTES:
        raise DescriptorError(source, [("", f"is larger than {MAX_DESCRIPTOR_BYTES // 1024} KB.")])
    try:
        data = yaml.load(text, Loader=_DescriptorLoader)  # noqa: S506 - a SafeLoader without aliases
    except _AliasRefused as exc:
        raise DescriptorError(source, [(exc.where, ALIAS_MESSAGE)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DescriptorError(source, [(where, f"not valid YAML: {problem}.")]) from None
    if data is None:
        raise DescriptorError(source, [("", "is empty.")])
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        raise DescriptorError(
            source, [("", "a descriptor is a mapping with apiVersion, kind, metadata and spec.")]
        )
    _check_keys(data, ("apiVersion", "kind", "metadata", "spec"), "", problems)
    if data.get("apiVersion") != API_VERSION:
        problems.append(("apiVersion", f"must be {API_VERSION} (found {_shown(data.get('apiVersion'))})."))
    if data.get("kind") != KIND:
        problems.append(("kind", f"must be {KIND} (found {_shown(data.get('kind'))})."))
    intent: dict[str, Any] = {}
    metadata = _mapping(data, "metadata", "", problems, required=True)
    spec = _mapping(data, "spec", "", problems, required=True)
    if metadata is not None:
        _check_keys(metadata, METADATA_FIELDS, "metadata", problems)
        _read_fields(metadata, {k: v for k, v in METADATA_FIELDS.items() if v}, "metadata", intent, problems)
        links = _mapping(metadata, "links", "metadata", problems)
        if links is not None:
            _check_keys(links, LINK_FIELDS, "metadata.links", problems)
            _read_fields(links, LINK_FIELDS, "metadata.links", intent, problems)
    if spec is not None:
        _check_keys(spec, SPEC_FIELDS, "spec", problems)
        _read_fields(spec, {k: v for k, v in SPEC_FIELDS.items() if v}, "spec", intent, problems)
        owner = _mapping(spec, "owner", "spec", problems, required=True)
        if owner is not None:
            _check_keys(owner, OWNER_FIELDS, "spec.owner", problems)
            _read_fields(owner, OWNER_FIELDS, "spec.owner", intent, problems)
    reported = {path for path, _message in problems}
    for path in REQUIRED_PATHS:
        intent_name = next(name for name, p in PATHS.items() if p == path)
        parent = path.rsplit(".", 1)[0]
        if intent.get(intent_name) in (None, "") and path not in reported and parent not in reported:
            problems.append((path, "is required."))
    if problems:
        raise DescriptorError(source, problems)
    return intent


def _shown(value) -> str:
    # A value from the file, quoted and cut short: an error message never grows with the input.
    return "nothing" if value is None else f'"{shorten(value)}"'


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _check_keys(mapping: dict, allowed, parent: str, problems: list) -> None:
    for name in mapping:
        if name not in allowed:
            problems.append(
                (
                    _join(parent, shorten(name)),
                    f"unknown field; {parent or 'a descriptor'} has {', '.join(allowed)}.",
                )
            )


def _mapping(
    container: dict, name: str, parent: str, problems: list, *, required: bool = False
) -> dict | None:
    value = container.get(name)
    if value is None:
        if required:
            problems.append((_join(parent, name), "is required."))
        return None
    if not isinstance(value, dict):
        problems.append((_join(parent, name), "must be a mapping of fields."))
        return None
    return value


def _read_fields(mapping: dict, fields: dict[str, str], parent: str, intent: dict, problems: list) -> None:
    for name, intent_name in fields.items():
        if name not in mapping:
            continue
        path = _join(parent, name)
        value = mapping[name]
        if intent_name == "tags":
            if value is None:
                intent["tags"] = []
            elif isinstance(value, str):
                intent["tags"] = value
            elif isinstance(value, list) and all(_is_scalar(item) for item in value):
                intent["tags"] = [str(item) for item in value]
            else:
                problems.append((path, "must be a list of words, like [support, genai]."))
        elif intent_name == "customer_facing":
            if isinstance(value, bool) or value is None:
                intent[intent_name] = value
            elif value in (0, 1):
                intent[intent_name] = bool(value)
            else:
                problems.append((path, f"must be true or false (found {_shown(value)})."))
        elif value is None:
            if intent_name in CLEARABLE:
                intent[intent_name] = None
            else:
                problems.append((path, "must not be empty."))
        elif isinstance(value, bool) or not _is_scalar(value):
            problems.append(
                (path, f"must be text (found {_shown(value)}); put it in quotes if it is meant as text.")
            )
        else:
            intent[intent_name] = value.isoformat() if hasattr(value, "isoformat") else str(value)


def _is_scalar(value) -> bool:
    return isinstance(value, (str, int, float)) or hasattr(value, "isoformat")


#
# Syncing a folder
#


@dataclass
class FileOutcome:
    file: str
    status: str = ""  # created | updated | unchanged | error
    key: str = ""
    fields: list[str] = field(default_factory=list)  # descriptor paths that change
    errors: list[str] = field(default_factory=list)  # "path: message"
    key_assigned: bool = False  # created without metadata.key: write the key back

    def fail(self, problems: list[tuple[str, str]]) -> None:
        self.status = "error"
        self.errors.extend(f"{path}: {message}" if path else message for path, message in problems)

    def describe(self, *, applied: bool) -> list[str]:
        if self.status == "error":
            return [f"{self.file}: error"] + [f"  {self.file}: {error}" for error in self.errors]
        verb = (
            self.status
            if applied
            else {"created": "would create", "updated": "would update"}.get(self.status, self.status)
        )
        key = self.key or "(new key)"
        line = f"{self.file}: {verb} {key}"
        if self.fields:
            line += f" ({', '.join(self.fields)})"
        if self.key_assigned and applied:
            line += f" — add “key: {self.key}” under metadata so later syncs match it by key"
        return [line]


@dataclass
class SyncReport:
    directory: str
    files: list[FileOutcome] = field(default_factory=list)
    applied: bool = False  # False: nothing was written (dry run, or a file failed)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    def _with(self, status: str) -> list[FileOutcome]:
        return [outcome for outcome in self.files if outcome.status == status]

    @property
    def created(self) -> list[FileOutcome]:
        return self._with("created")

    @property
    def updated(self) -> list[FileOutcome]:
        return self._with("updated")

    @property
    def unchanged(self) -> list[FileOutcome]:
        return self._with("unchanged")

    @property
    def failed(self) -> list[FileOutcome]:
        return self._with("error")

    def lines(self) -> list[str]:
        lines = [line for outcome in self.files for line in outcome.describe(applied=self.applied)]
        counts = (
            f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.failed)} failed"
        )
        if not self.files:
            lines.append(f"No descriptors (*.yaml, *.yml) in {self.directory}.")
        elif self.applied:
            lines.append(f"Synced {len(self.files)} descriptor(s): {counts}.")
        elif self.dry_run and self.ok:
            lines.append(
                f"Dry run, nothing written: {counts.replace('created', 'to create').replace('updated', 'to update')}."
            )
        else:
            lines.append(f"Nothing written: {len(self.failed)} descriptor(s) failed ({counts}).")
        return lines


class _NothingWritten(Exception):
    pass


def apply_descriptors(directory: Path, *, user, dry_run: bool = False) -> SyncReport:
    """Validate every descriptor in ``directory``, then apply them all in one transaction.

    Creates what is missing, updates only the fields that differ, leaves identical use cases
    untouched (no writes, no audit entries). If any file fails, nothing is written. With
    ``dry_run`` the report says what would happen and nothing is written.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValidationError(f"{directory} is not a folder.")
    paths = sorted(
        (
            path
            for path in directory.iterdir()
            if path.is_file() and path.suffix.lower() in DESCRIPTOR_SUFFIXES
        ),
        key=lambda path: path.name,
    )
    report = SyncReport(
        directory=str(directory), files=[FileOutcome(file=path.name) for path in paths], dry_run=dry_run
    )
    intents: dict[int, dict] = {}
    for index, path in enumerate(paths):
        try:
            intents[index] = parse_descriptor(_read_text(path), source=path.name)
        except DescriptorError as exc:
            report.files[index].fail(exc.problems)
    if not intents:
        return report
    if not may_import(user):
        for index in intents:
            report.files[index].fail([("", "your roles do not allow filing or changing use cases.")])
        return report
    try:
        with transaction.atomic():
            _plan_and_apply(report, intents, user=user, dry_run=dry_run)
    except _NothingWritten:
        report.applied = False
    return report


def _read_text(path: Path) -> str:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise DescriptorError(path.name, [("", f"cannot be read ({exc.strerror or exc}).")]) from None
    if len(content) > MAX_DESCRIPTOR_BYTES:
        raise DescriptorError(path.name, [("", f"is larger than {MAX_DESCRIPTOR_BYTES // 1024} KB.")])
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DescriptorError(path.name, [("", "is not UTF-8 text.")]) from None


def _plan_and_apply(report: SyncReport, intents: dict[int, dict], *, user, dry_run: bool) -> None:
    lookups = Lookups(user=user, intents=list(intents.values()), lock=not dry_run)
    order = list(intents)
    plans = [plan_intent(intents[index], lookups=lookups, match_by_name=True) for index in order]
    for position, field_name, message in duplicate_errors(plans, [report.files[i].file for i in order]):
        plans[position].error(field_name, message)
    for index, plan in zip(order, plans, strict=True):
        outcome = report.files[index]
        if plan.errors:
            outcome.fail([(PATHS.get(name, ""), message) for name, message in plan.errors])
            continue
        outcome.status = {"create": "created", "update": "updated"}.get(plan.action, "unchanged")
        outcome.key = "" if plan.key_assigned else plan.key
        outcome.key_assigned = plan.key_assigned
        if plan.action == "update":
            outcome.fields = [PATHS[name] for name in plan.changes if name in PATHS]
    if report.failed or dry_run:
        raise _NothingWritten
    try:
        apply_plans(plans, user=user)
    except ApplyFailed as failure:
        outcome = report.files[order[failure.index]]
        outcome.fields = []
        outcome.fail([(PATHS.get(name, ""), message) for name, message in failure.errors])
        raise _NothingWritten from failure
    for index, plan in zip(order, plans, strict=True):
        report.files[index].key = plan.key
    report.applied = True
    if report.created or report.updated:
        audit.record(
            audit.AuditActionChoices.IMPORT,
            message=(
                f"Synced use case descriptors from {report.directory}: {len(report.created)} created, "
                f"{len(report.updated)} updated, {len(report.unchanged)} unchanged."
            ),
            extra={
                "format": "descriptors",
                "folder": report.directory,
                "created": len(report.created),
                "updated": len(report.updated),
            },
        )


def first_admin():
    """The person commands act as when no one is named: the first active administrator."""

    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__name=Role.ADMIN) | Q(is_superuser=True))
        .order_by("pk")
        .distinct()
        .first()
    )
