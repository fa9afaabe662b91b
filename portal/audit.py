"""The append-only, hash-chained audit trail and the actor context it records.

Who did it:  every entry names its actor — a person, a person through an API token, a job (and
             the person who started it), a management command, or the system — and the
             channel (ui / api / job / command / system). Requests set the context in
             ``AuditContextMiddleware``; jobs in ``portal.jobs.execute``; management commands in
             ``portal.cli.main``; anything else uses ``with audit_context(...)``.
What:        governed models are registered with :func:`register`; their creates, updates
             (field by field, before → after), deletes, many-to-many changes and bulk
             operations are recorded by signal receivers and ``AuditedQuerySet``. Typed events
             (sign-ins, token use, exports, later decisions and deployments) call :func:`record`.
Integrity:   each entry stores the previous entry's hash and SHA-256 over that hash plus its
             own canonical JSON. Writers take one lock (a PostgreSQL advisory lock; SQLite's
             IMMEDIATE transactions) so the chain never forks. :func:`verify_chain` recomputes
             it and names the first entry that does not verify.
Anchoring:   the chain alone cannot show that its newest entries were deleted. A periodic job
             writes a signed checkpoint of the head (entry id, hash, count, time; HMAC with
             PROPYLON_AUDIT_CHECKPOINT_KEY) to PROPYLON_AUDIT_CHECKPOINT_DIR, outside the
             database; :func:`verify_chain` compares the chain with the latest checkpoint.
"""

import hashlib
import hmac
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models, router, transaction
from django.db.models.fields.files import FieldFile
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.utils import timezone

from portal.choices import ActorKindChoices, AuditActionChoices, ChannelChoices
from portal.models import ApiToken, AuditEntry

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the audit chain's PostgreSQL advisory lock ("AUDT" in ASCII).
AUDIT_CHAIN_LOCK_KEY = 0x41554454
HIDDEN = "[hidden]"

__all__ = [
    "AuditActionChoices",
    "audit_context",
    "record",
    "record_model_change",
    "register",
    "verify_chain",
]


#
# Actor context
#


@dataclass(frozen=True)
class AuditContext:
    channel: str
    request: Any = None
    user: Any = None
    job_run_id: int | None = None
    label: str = ""


@dataclass(frozen=True)
class Actor:
    kind: str
    label: str
    channel: str
    user: Any = None
    token: ApiToken | None = None
    job_run_id: int | None = None
    request_id: Any = None


_current: ContextVar[AuditContext | None] = ContextVar("propylon_audit_context", default=None)


@contextmanager
def audit_context(*, channel: str, request=None, user=None, job_run_id: int | None = None, label: str = ""):
    """Attribute everything recorded inside the block to this actor and channel."""
    reset_token = _current.set(
        AuditContext(channel=channel, request=request, user=user, job_run_id=job_run_id, label=label)
    )
    try:
        yield
    finally:
        _current.reset(reset_token)


def current_actor() -> Actor:
    context = _current.get()
    if context is None:
        return Actor(kind=ActorKindChoices.SYSTEM, label="system", channel=ChannelChoices.SYSTEM)
    if context.request is not None:
        request = context.request
        request_id = getattr(request, "id", None)
        user = getattr(request, "user", None)
        token = getattr(request, "auth", None)
        if isinstance(token, ApiToken):
            return Actor(
                kind=ActorKindChoices.TOKEN,
                label=f"{token.user.get_username()} (token “{token.name}”)",
                channel=context.channel,
                user=token.user,
                token=token,
                request_id=request_id,
            )
        if user is not None and user.is_authenticated:
            return Actor(
                ActorKindChoices.USER, user.get_username(), context.channel, user, request_id=request_id
            )
        return Actor(ActorKindChoices.ANONYMOUS, "anonymous", context.channel, request_id=request_id)
    if context.job_run_id is not None:
        return Actor(
            ActorKindChoices.JOB, context.label, context.channel, context.user, job_run_id=context.job_run_id
        )
    kind = ActorKindChoices.COMMAND if context.channel == ChannelChoices.COMMAND else ActorKindChoices.SYSTEM
    return Actor(kind, context.label or kind, context.channel, context.user)


#
# Writing entries
#


def _jsonable(value: Any) -> Any:
    """The value exactly as it will read back from a JSON column (so hashes recompute)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def canonical_content(entry: AuditEntry) -> str:
    payload = {
        "time": entry.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": entry.action,
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "token_id": entry.token_id,
        "job_run_id": entry.job_run_id,
        "channel": entry.channel,
        "request_id": str(entry.request_id) if entry.request_id else None,
        "content_type_id": entry.content_type_id,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "changes": entry.changes,
        "message": entry.message,
        "extra": entry.extra,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical_content(entry)}".encode()).hexdigest()


def _lock_chain(using: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK_KEY])
    # SQLite: settings open every transaction IMMEDIATE, which already serialises writers.


def record(
    action: str,
    *,
    obj: models.Model | None = None,
    changes: dict | None = None,
    message: str = "",
    extra: dict | None = None,
    actor: Actor | None = None,
) -> AuditEntry:
    """Append one entry to the trail, in the caller's transaction."""
    entry = _new_entry(action, obj=obj, changes=changes, message=message, extra=extra, actor=actor)
    _append([entry])
    return entry


def _new_entry(
    action: str, *, obj, changes, message: str = "", extra=None, actor: Actor | None = None
) -> AuditEntry:
    actor = actor or current_actor()
    return AuditEntry(
        time=timezone.now(),
        action=action,
        actor_kind=actor.kind,
        actor_id=getattr(actor.user, "pk", None),
        actor_label=actor.label[:200],
        token_id=actor.token.pk if actor.token else None,
        job_run_id=actor.job_run_id,
        channel=actor.channel,
        request_id=actor.request_id,
        content_type_id=ContentType.objects.get_for_model(obj, for_concrete_model=False).pk if obj else None,
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        changes=_jsonable(changes or {}),
        message=message,
        extra=_jsonable(extra or {}),
    )


# Entries per INSERT when a bulk write appends many at once.
APPEND_BATCH_SIZE = 1000


def _append(entries: list[AuditEntry]) -> None:
    """Chain ``entries`` after the trail's head and insert them, under the chain's lock: one
    lock and one read of the head however many entries (a bulk write of 10,000 findings
    appends 10,000 entries in ten INSERTs, not 10,000 round trips of three statements)."""
    if not entries:
        return
    using = router.db_for_write(AuditEntry)
    with transaction.atomic(using=using):
        _lock_chain(using)
        prev_hash = (
            AuditEntry.objects.using(using).order_by("-id").values_list("entry_hash", flat=True).first()
            or GENESIS_HASH
        )
        for entry in entries:
            entry.prev_hash = prev_hash
            entry.entry_hash = prev_hash = compute_hash(prev_hash, entry)
        if len(entries) == 1:
            entries[0].save(force_insert=True, using=using)
        else:
            # One multi-row INSERT numbers its rows in order, so ids follow the chain; the
            # lock keeps any other writer out until the transaction ends.
            AuditEntry.objects.using(using).bulk_create(entries, batch_size=APPEND_BATCH_SIZE)


#
# Governed models
#


@dataclass(frozen=True)
class AuditOptions:
    exclude: frozenset[str] = field(default_factory=frozenset)
    secret: frozenset[str] = field(default_factory=frozenset)


_registry: dict[type[models.Model], AuditOptions] = {}


def register(model: type[models.Model], *, exclude: Iterable[str] = (), secret: Iterable[str] = ()) -> None:
    """Record every change to ``model``. ``exclude`` fields are not recorded; ``secret`` ones
    are recorded as changed without their value."""
    _registry[model] = AuditOptions(exclude=frozenset(exclude), secret=frozenset(secret))
    uid = f"audit-{model._meta.label_lower}"
    pre_save.connect(_before_save, sender=model, dispatch_uid=f"{uid}-pre-save")
    post_save.connect(_after_save, sender=model, dispatch_uid=f"{uid}-post-save")
    pre_delete.connect(_before_delete, sender=model, dispatch_uid=f"{uid}-pre-delete")
    post_delete.connect(_after_delete, sender=model, dispatch_uid=f"{uid}-post-delete")
    for m2m in model._meta.many_to_many:
        if m2m.name not in _registry[model].exclude:
            m2m_changed.connect(
                _m2m_changed, sender=m2m.remote_field.through, dispatch_uid=f"{uid}-{m2m.name}"
            )


def is_audited(model: type[models.Model]) -> bool:
    return model in _registry


def _recorded_fields(model: type[models.Model]) -> list[models.Field]:
    options = _registry[model]
    return [f for f in model._meta.concrete_fields if f.name not in options.exclude and not f.primary_key]


def audited_field_names(model: type[models.Model], changed: Iterable[str]) -> list[str]:
    """Of the fields a bulk operation touches, the ones the trail records."""
    if model not in _registry:
        return []
    names = {f.name: f.name for f in _recorded_fields(model)} | {
        f.attname: f.name for f in _recorded_fields(model)
    }
    return sorted({names[name] for name in changed if name in names})


def snapshot(obj: models.Model) -> dict[str, Any]:
    options = _registry[type(obj)]
    values = {}
    for model_field in _recorded_fields(type(obj)):
        value = model_field.value_from_object(obj)
        if isinstance(value, FieldFile):
            value = value.name  # the stored path; the file itself is not JSON
        values[model_field.name] = value
    return {
        name: (value if name not in options.secret else _secret_marker(value))
        for name, value in values.items()
    }


def _secret_marker(value: Any) -> str:
    # A digest of the secret lets a diff see "it changed" without ever storing the value.
    return HIDDEN + hashlib.sha256(str(value).encode()).hexdigest()[:12] if value else ""


def _display(name: str, value: Any, secret: frozenset[str]) -> Any:
    return HIDDEN if name in secret and value else value


def diff(before: dict[str, Any], after: dict[str, Any], secret: frozenset[str] = frozenset()) -> dict:
    before, after = _jsonable(before), _jsonable(after)
    return {
        name: {
            "before": _display(name, before.get(name), secret),
            "after": _display(name, after.get(name), secret),
        }
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def record_model_change(
    action: str, obj: models.Model, *, before: dict | None = None, bulk: bool = False
) -> None:
    entry = model_change_entry(action, obj, before=before, bulk=bulk)
    if entry is not None:
        _append([entry])


def model_change_entry(
    action: str, obj: models.Model, *, before: dict | None = None, bulk: bool = False
) -> AuditEntry | None:
    """The (unsaved) entry recording this change of ``obj``; None when nothing changed."""
    options = _registry[type(obj)]
    if action == AuditActionChoices.CREATE:
        changes = diff({}, snapshot(obj), options.secret)
    elif action == AuditActionChoices.DELETE:
        changes = diff(before if before is not None else snapshot(obj), {}, options.secret)
    else:
        changes = diff(before or {}, snapshot(obj), options.secret)
        if not changes:
            return None
    return _new_entry(action, obj=obj, changes=changes, extra={"bulk": True} if bulk else None)


def record_bulk_create(objs: Iterable[models.Model]) -> None:
    """One creation entry per object of a bulk_create, appended together."""
    _append([model_change_entry(AuditActionChoices.CREATE, obj, bulk=True) for obj in objs])


def record_bulk_update(model: type[models.Model], before: dict, after: dict) -> None:
    options = _registry[model]
    instances = model._base_manager.in_bulk(list(after))
    entries = []
    for pk, row in after.items():
        old = {key: value for key, value in before.get(pk, {}).items() if key != "pk"}
        new = {key: value for key, value in row.items() if key != "pk"}
        old = {k: (_secret_marker(v) if k in options.secret else v) for k, v in old.items()}
        new = {k: (_secret_marker(v) if k in options.secret else v) for k, v in new.items()}
        changes = diff(old, new, options.secret)
        if changes and pk in instances:
            entries.append(
                _new_entry(
                    AuditActionChoices.UPDATE, obj=instances[pk], changes=changes, extra={"bulk": True}
                )
            )
    _append(entries)


def _before_save(sender, instance, raw=False, **kwargs):
    if instance.pk is None or instance._state.adding:
        instance._audit_before = None
        return
    previous = sender._base_manager.filter(pk=instance.pk).first()
    instance._audit_before = snapshot(previous) if previous is not None else None


def _after_save(sender, instance, created, raw=False, **kwargs):
    before = getattr(instance, "_audit_before", None)
    if created or before is None:
        record_model_change(AuditActionChoices.CREATE, instance)
    else:
        record_model_change(AuditActionChoices.UPDATE, instance, before=before)
    instance._audit_before = None


def _before_delete(sender, instance, **kwargs):
    instance._audit_before = snapshot(instance)


def _after_delete(sender, instance, **kwargs):
    record_model_change(AuditActionChoices.DELETE, instance, before=getattr(instance, "_audit_before", None))


def _m2m_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    # Only the forward side is recorded (team.members.add, user.groups.add); the reverse side of
    # the same relation would record the same change again on the other object.
    if reverse or type(instance) not in _registry:
        return
    m2m = next(f for f in type(instance)._meta.many_to_many if f.remote_field.through is sender)
    manager = getattr(instance, m2m.name)
    if action in ("pre_add", "pre_remove", "pre_clear"):
        instance._audit_m2m_before = sorted(manager.values_list("pk", flat=True))
    elif action in ("post_add", "post_remove", "post_clear"):
        before = getattr(instance, "_audit_m2m_before", [])
        after = sorted(manager.values_list("pk", flat=True))
        if before != after:
            record(
                AuditActionChoices.UPDATE,
                obj=instance,
                changes={m2m.name: {"before": before, "after": after}},
            )


#
# Verification
#


@dataclass(frozen=True)
class ChainVerification:
    intact: bool
    checked: int
    head_hash: str
    broken_entry_id: int | None = None
    reason: str = ""
    # The latest checkpoint the chain was compared with (None: none written yet), and how many
    # entries it counted that are no longer there.
    checkpoint: dict | None = None
    deleted_tail_entries: int = 0

    def as_dict(self) -> dict:
        return {
            "status": "intact" if self.intact else "broken",
            "checked": self.checked,
            "head_hash": self.head_hash,
            "broken_entry_id": self.broken_entry_id,
            "reason": self.reason,
            "checkpoint": self.checkpoint,
            "deleted_tail_entries": self.deleted_tail_entries,
        }

    def summary(self) -> str:
        """One line for the command, the job log and the job error."""
        if not self.intact:
            where = f" at entry #{self.broken_entry_id}" if self.broken_entry_id else ""
            return f"Audit trail broken{where}: {self.reason}. {self.checked} entries before it verified."
        line = f"Audit trail intact: {self.checked} entries, head hash {self.head_hash}"
        if self.checkpoint is None:
            return line + "; no checkpoint written yet."
        return line + (
            f"; matches the checkpoint of {self.checkpoint['created_at']} "
            f"(entry #{self.checkpoint['entry_id']}, {self.checkpoint['count']} entries)."
        )


def _walk(entries, expected_prev: str, checked: int):
    """Check links and hashes of ``entries`` (in id order) after ``expected_prev``; return
    (ChainVerification or None when all verify, last hash, count checked, last entry)."""
    last = None
    for entry in entries:
        if entry.prev_hash != expected_prev:
            return (
                ChainVerification(
                    False,
                    checked,
                    expected_prev,
                    entry.pk,
                    "its link to the previous entry is broken: an entry before it was removed or rewritten",
                ),
                expected_prev,
                checked,
                last,
            )
        if compute_hash(entry.prev_hash, entry) != entry.entry_hash:
            return (
                ChainVerification(
                    False,
                    checked,
                    expected_prev,
                    entry.pk,
                    "its content does not match its hash: it was altered",
                ),
                expected_prev,
                checked,
                last,
            )
        expected_prev = entry.entry_hash
        checked += 1
        last = entry
    return None, expected_prev, checked, last


def verify_chain(*, chunk_size: int = 2000) -> ChainVerification:
    """Recompute the chain in id order; report the first entry that does not verify, then
    compare the head with the latest signed checkpoint (deleted newest entries show there)."""
    try:
        checkpoint = latest_checkpoint()
    except CheckpointError as exc:
        # Without its anchor the trail cannot be vouched for: say so rather than "intact".
        checkpoint, unreadable = None, str(exc)
    else:
        unreadable = ""
    broken, head_hash, checked, _last = _walk(
        AuditEntry.objects.order_by("id").iterator(chunk_size=chunk_size), GENESIS_HASH, 0
    )
    if broken is not None:
        return ChainVerification(
            False,
            broken.checked,
            broken.head_hash,
            broken.broken_entry_id,
            broken.reason,
            checkpoint.as_dict() if checkpoint else None,
        )
    if unreadable:
        return ChainVerification(False, checked, head_hash, None, unreadable)
    if checkpoint is None:
        return ChainVerification(True, checked, head_hash)
    problem, deleted = _compare_with_checkpoint(checkpoint)
    if problem:
        return ChainVerification(False, checked, head_hash, None, problem, checkpoint.as_dict(), deleted)
    return ChainVerification(True, checked, head_hash, checkpoint=checkpoint.as_dict())


#
# Checkpoints: the head, signed and kept where the database cannot reach
#


class CheckpointError(Exception):
    """A checkpoint cannot be written or read; the message says why."""


CHECKPOINT_FIELDS = ("version", "entry_id", "entry_hash", "count", "head_time", "created_at")


@dataclass(frozen=True)
class Checkpoint:
    entry_id: int
    entry_hash: str
    count: int
    head_time: str
    created_at: str
    signature: str = ""
    version: int = 1
    file_name: str = ""

    def payload(self) -> dict:
        return {name: getattr(self, name) for name in CHECKPOINT_FIELDS}

    def as_dict(self) -> dict:
        return {**self.payload(), "signature": self.signature}

    @property
    def signature_valid(self) -> bool:
        return hmac.compare_digest(self.signature, _sign(self.payload()))


def _checkpoint_key() -> bytes:
    key = settings.PROPYLON_AUDIT_CHECKPOINT_KEY
    if key:
        return key.encode()
    # Derived, so an install works without configuring one; a separate key (not in the web
    # processes' SECRET_KEY) is better, and docs/audit-trail.md says so.
    return hmac.new(settings.SECRET_KEY.encode(), b"propylon.audit.checkpoint", hashlib.sha256).digest()


def _sign(payload: dict) -> str:
    message = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(_checkpoint_key(), message, hashlib.sha256).hexdigest()


def checkpoint_dir() -> Path:
    return Path(settings.PROPYLON_AUDIT_CHECKPOINT_DIR)


def _read_checkpoint(path: Path) -> Checkpoint:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Checkpoint(
            entry_id=int(data["entry_id"]),
            entry_hash=str(data["entry_hash"]),
            count=int(data["count"]),
            head_time=str(data["head_time"]),
            created_at=str(data["created_at"]),
            signature=str(data.get("signature", "")),
            version=int(data.get("version", 1)),
            file_name=path.name,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint file {path} cannot be read: {exc}") from exc


def latest_checkpoint() -> Checkpoint | None:
    """The newest checkpoint file, or None when none has been written. A file that cannot be
    read is an error, not "no checkpoint": removing the anchor must not silence verification."""
    directory = checkpoint_dir()
    try:
        names = sorted(path.name for path in directory.glob("checkpoint-*.json"))
    except OSError as exc:
        raise CheckpointError(f"checkpoint directory {directory} cannot be read: {exc}") from exc
    return _read_checkpoint(directory / names[-1]) if names else None


def _compare_with_checkpoint(checkpoint: Checkpoint) -> tuple[str, int]:
    """What is wrong between the table and the checkpoint ("" when nothing), and how many of the
    entries the checkpoint counted are gone."""
    if not checkpoint.signature_valid:
        return (
            f"the latest checkpoint ({checkpoint.file_name}) does not carry a valid signature: "
            "it was forged or altered, or PROPYLON_AUDIT_CHECKPOINT_KEY changed",
            0,
        )
    present = AuditEntry.objects.filter(id__lte=checkpoint.entry_id).count()
    deleted = max(0, checkpoint.count - present)
    anchor = AuditEntry.objects.filter(id=checkpoint.entry_id).values_list("entry_hash", flat=True).first()
    if anchor is None or deleted:
        head = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()
        return (
            f"entries were deleted from the end of the trail: the checkpoint of {checkpoint.created_at} "
            f"counted {checkpoint.count} entries up to #{checkpoint.entry_id}, of which {present} remain "
            f"(the trail now ends at #{head or 'nothing'})",
            deleted or 1,
        )
    if anchor != checkpoint.entry_hash:
        return (
            f"entry #{checkpoint.entry_id} no longer has the hash the checkpoint of "
            f"{checkpoint.created_at} recorded: the trail up to it was rewritten",
            0,
        )
    return "", 0


def write_checkpoint() -> Checkpoint | None:
    """Sign the current head and store it; None when the trail is empty.

    Only a trail that extends the previous checkpoint is anchored: the entries since then are
    verified first (cheap: only the new ones), so a tampered tail is reported, not blessed."""
    head = AuditEntry.objects.order_by("-id").first()
    if head is None:
        return None
    previous = latest_checkpoint()
    if previous is not None:
        problem, _deleted = _compare_with_checkpoint(previous)
        if problem:
            raise CheckpointError(f"not writing a checkpoint: {problem}")
        broken, _hash, _checked, _last = _walk(
            AuditEntry.objects.filter(id__gt=previous.entry_id, id__lte=head.pk)
            .order_by("id")
            .iterator(chunk_size=2000),
            previous.entry_hash,
            0,
        )
        if broken is not None:
            raise CheckpointError(
                f"not writing a checkpoint: entry #{broken.broken_entry_id} does not verify: {broken.reason}"
            )
        if previous.entry_id == head.pk:
            return previous  # nothing new since: no file per quiet quarter-hour
    created = timezone.now().astimezone(UTC)
    checkpoint = Checkpoint(
        entry_id=head.pk,
        entry_hash=head.entry_hash,
        count=AuditEntry.objects.filter(id__lte=head.pk).count(),
        head_time=head.time.astimezone(UTC).isoformat(),
        created_at=created.isoformat(),
    )
    checkpoint = Checkpoint(**{**checkpoint.payload(), "signature": _sign(checkpoint.payload())})
    directory = checkpoint_dir()
    name = f"checkpoint-{created:%Y%m%dT%H%M%S%fZ}-{head.pk}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader never sees half a file.
        with tempfile.NamedTemporaryFile(
            "w", dir=directory, suffix=".tmp", delete=False, encoding="utf-8"
        ) as f:
            json.dump(checkpoint.as_dict(), f, sort_keys=True, indent=1)
            temporary = f.name
        os.replace(temporary, directory / name)
    except OSError as exc:
        raise CheckpointError(f"checkpoint directory {directory} is not writable: {exc}") from exc
    return Checkpoint(**{**checkpoint.payload(), "signature": checkpoint.signature, "file_name": name})
