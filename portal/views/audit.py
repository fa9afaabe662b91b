"""The audit log for auditors and admins, per-object history for everyone who can see the object."""

import json
import logging

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render

from portal import audit
from portal.audit_display import readable_changes
from portal.choices import AuditActionChoices
from portal.exports import csv_response, json_response
from portal.forms import AuditFilterForm
from portal.jobs import JOB_REGISTRY
from portal.models import JobRun
from portal.permissions import restrict
from portal.policies import may_read_audit_log
from portal.selectors import audit_entries_visible_to, history_for

logger = logging.getLogger(__name__)

ENTRIES_PER_PAGE = 50


def _log_readers_only(user) -> None:
    if not may_read_audit_log(user):
        raise PermissionDenied("The audit log is for auditors and administrators.")


def _filtered(request):
    form = AuditFilterForm(request.GET or None)
    entries = audit_entries_visible_to(request.user).select_related("content_type")
    if form.is_bound and form.is_valid():
        entries = form.filter(entries)
    return form, entries


@login_required
def audit_log(request):
    _log_readers_only(request.user)
    form, entries = _filtered(request)
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = readable_changes(page.object_list, user=request.user)
    query = request.GET.copy()
    query.pop("page", None)
    last_verification = (
        restrict(JobRun.objects.filter(task_name="portal.verify_audit_trail"), request.user)
        .order_by("-created_at")
        .first()
    )
    return render(
        request,
        "portal/audit/log.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "last_verification": last_verification,
            "may_verify": JOB_REGISTRY["portal.verify_audit_trail"].may_start(request.user),
        },
    )


@login_required
def audit_export(request, fmt: str):
    _log_readers_only(request.user)
    form, entries = _filtered(request)
    if form.is_bound and not form.is_valid():
        return render(request, "portal/audit/log.html", {"form": form, "page": None, "query": ""}, status=400)
    entries = entries.order_by("id")
    # The export itself is evidence of who took what out of the system; it lists the entries
    # that existed when it was asked for, not the one recording it.
    last_id = entries.values_list("id", flat=True).last() or 0
    entries = entries.filter(id__lte=last_id)
    audit.record(
        AuditActionChoices.EXPORT,
        message=f"Audit log exported as {fmt.upper()}",
        extra={"filters": {k: v for k, v in request.GET.items() if v}, "rows": entries.count()},
    )
    checkpoint = _latest_checkpoint_for_export()
    rows = entries.iterator(chunk_size=2000)
    if fmt == "csv":
        return csv_response(
            "propylon-audit-log.csv",
            AUDIT_CSV_HEADER,
            _rows_then_checkpoint((_entry_row(e) for e in rows), checkpoint),
        )
    response = json_response("propylon-audit-log.json", (_entry_record(e) for e in rows))
    response.streaming_content = _wrapped_with_checkpoint(response.streaming_content, checkpoint)
    return response


def _latest_checkpoint_for_export() -> dict | None:
    """The latest signed checkpoint travels with every export, so whoever holds the file can
    tell that entries up to it existed even if they later vanish from the database."""
    try:
        checkpoint = audit.latest_checkpoint()
    except audit.CheckpointError:
        logger.warning("audit export without a checkpoint", exc_info=True)
        return None
    return checkpoint.as_dict() if checkpoint else None


def _wrapped_with_checkpoint(entries_json, checkpoint: dict | None):
    yield '{"checkpoint": ' + json.dumps(checkpoint, sort_keys=True) + ',\n"entries": '
    for chunk in entries_json:
        yield chunk if isinstance(chunk, str) else chunk.decode()
    yield "}\n"


def _rows_then_checkpoint(rows, checkpoint: dict | None):
    yield from rows
    if checkpoint is not None:
        # One last row, told apart by its action and its empty id; extra holds the signed JSON.
        yield [
            "",
            checkpoint["created_at"],
            "checkpoint",
            "",
            "",
            "",
            "",
            "",
            str(checkpoint["entry_id"]),
            "",
            "",
            f"Signed checkpoint: {checkpoint['count']} entries up to #{checkpoint['entry_id']}",
            json.dumps(checkpoint, sort_keys=True),
            "",
            checkpoint["entry_hash"],
        ]


AUDIT_CSV_HEADER = [
    "id",
    "time",
    "action",
    "actor_kind",
    "actor",
    "channel",
    "request_id",
    "object_type",
    "object_id",
    "object",
    "changes",
    "message",
    "extra",
    "prev_hash",
    "entry_hash",
]


def _entry_row(entry) -> list:
    record = _entry_record(entry)
    return [
        record["id"],
        entry.time.isoformat(),
        record["action"],
        record["actor_kind"],
        record["actor_label"],
        record["channel"],
        record["request_id"],
        record["object_type"],
        record["object_id"],
        record["object_repr"],
        record["changes"],
        record["message"],
        record["extra"],
        record["prev_hash"],
        record["entry_hash"],
    ]


def _entry_record(entry) -> dict:
    """Everything needed to recompute the entry's hash offline (see docs/audit-trail.md)."""
    return {
        "id": entry.id,
        # Full microseconds, as hashed (DjangoJSONEncoder would cut them to milliseconds).
        "time": entry.time.isoformat(),
        "action": entry.action,
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "token_id": entry.token_id,
        "job_run_id": entry.job_run_id,
        "channel": entry.channel,
        "request_id": entry.request_id,
        "content_type_id": entry.content_type_id,
        "object_type": f"{entry.content_type.app_label}.{entry.content_type.model}"
        if entry.content_type
        else None,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "changes": entry.changes,
        "message": entry.message,
        "extra": entry.extra,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


@login_required
def object_history(request, label: str, object_id: str):
    obj, entries = history_for(user=request.user, label=label, object_id=object_id)
    page = Paginator(entries.select_related("content_type"), ENTRIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    # Names, not ids: the page shows people, stages and titles; the exports keep raw values.
    page.object_list = readable_changes(page.object_list, user=request.user)
    return render(request, "portal/audit/history.html", {"object": obj, "page": page, "label": label})
