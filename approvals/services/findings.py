"""Findings: what people do with them (acknowledge, resolve, accept the risk, comment) and the
daily escalation scan.

Audits open, update, reopen and clear findings (``approvals.services.audits``); people and the
escalation job move them by the table in ``FindingStatusChoices.TRANSITIONS`` through
``Finding.move_to()``. Every write locks the finding (``select_for_update``: the owner and a CoE
reviewer may act at the same moment, and an audit run may be updating it), writes its
:class:`FindingEvent` and a typed audit entry in the same transaction, and raises
``ValidationError`` with a message the person can act on. Callers check who may act
(``portal.permissions``, ``approvals.policies``); these functions check the data and the rules
that are invariants: accepting a risk is an approver's decision, never the owner's or the owning
team's (segregation of duties, as for gates), and it is bounded in time.
"""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.choices import FindingEventKindChoices, FindingStatusChoices
from approvals.models import Finding, FindingEvent
from approvals.selectors.findings import max_acceptance_days, risk_acceptance_conflict
from portal import audit
from portal.choices import AuditActionChoices
from portal.notifications import notify
from portal.roles import Role

COMMENT_MAX_LENGTH = 10_000
# Who hears about an overdue finding besides its owner: the people who run the CoE.
ESCALATION_ROLES = (Role.COE_REVIEWER, Role.COE_LEAD)
# The scan reads the findings due in batches of this many ids.
SCAN_BATCH = 1_000

FINDING_RELATED = ("use_case", "use_case__owning_team", "owner")


def finding_event(
    finding: Finding, kind: str, actor=None, message: str = "", *, audit_run=None, **data
) -> FindingEvent:
    """Append one event to the finding's history and the audit trail (the caller's transaction)."""
    event = FindingEvent(
        finding=finding,
        kind=kind,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        audit_run=audit_run,
        message=message,
    )
    event.save()
    audit.record(
        AuditActionChoices.DECISION,
        obj=finding,
        message=f"Finding #{finding.pk} {FindingEventKindChoices.label(kind).lower()}"
        + (f": {message}" if message else ""),
        extra={"event": kind, "event_id": event.pk, "finding": finding.key, **data},
    )
    return event


def _lock(finding: Finding) -> Finding:
    # of=self: PostgreSQL refuses to lock the nullable side of an outer join (use case, owner).
    return Finding.objects.select_for_update(of=("self",)).select_related(*FINDING_RELATED).get(pk=finding.pk)


def _refresh(stale: Finding, fresh: Finding) -> None:
    """Callers keep using the object they passed in: bring it up to date."""
    if stale is not fresh:
        stale.refresh_from_db()


def _text(value: str, field: str, *, required: str = "") -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: required})
    if len(value) > COMMENT_MAX_LENGTH:
        raise ValidationError({field: f"Keep it under {COMMENT_MAX_LENGTH} characters."})
    return value


def _save(finding: Finding, fields: list[str]) -> None:
    finding.full_clean()
    finding.save(update_fields=fields)


#
# What people do
#


@transaction.atomic
def finding_acknowledge(*, actor, finding: Finding, comment: str = "") -> Finding:
    """The owner (or the CoE) says they know and are on it; the due date stands."""
    comment = _text(comment, "comment")
    locked = _lock(finding)
    locked.move_to(FindingStatusChoices.ACKNOWLEDGED)
    locked.acknowledged_at = timezone.now()
    locked.acknowledged_by = actor
    _save(locked, ["status", "acknowledged_at", "acknowledged_by"])
    finding_event(locked, FindingEventKindChoices.ACKNOWLEDGED, actor, comment)
    _refresh(finding, locked)
    return locked


@transaction.atomic
def finding_resolve(*, actor, finding: Finding, comment: str) -> Finding:
    """Close a finding by hand, saying what was done. If the condition still holds, the next
    audit run reopens it: resolving records a claim, the audit verifies it."""
    comment = _text(comment, "comment", required="Say what was done to resolve it.")
    locked = _lock(finding)
    locked.move_to(FindingStatusChoices.RESOLVED)
    locked.resolved_at = timezone.now()
    _save(locked, ["status", "resolved_at"])
    finding_event(locked, FindingEventKindChoices.RESOLVED, actor, comment)
    _refresh(finding, locked)
    return locked


@transaction.atomic
def finding_accept_risk(*, actor, finding: Finding, reason: str, until: datetime) -> Finding:
    """An approver accepts the risk until a date: the finding stops being live until then, and
    the escalation scan reopens it when the acceptance runs out."""
    reason = _text(reason, "reason", required="Say why the risk is acceptable.")
    if until is None:
        raise ValidationError({"until": "Say until when the risk is accepted."})
    if timezone.is_naive(until):
        raise ValidationError({"until": "Give the date with its time zone."})
    now = timezone.now()
    if until <= now:
        raise ValidationError({"until": "The acceptance must end in the future."})
    days = max_acceptance_days()
    if until > now + timedelta(days=days):
        raise ValidationError({"until": f"A risk is accepted for at most {days} days; review it again then."})
    locked = _lock(finding)
    conflict = risk_acceptance_conflict(locked, actor)
    if conflict:
        raise ValidationError(conflict)
    locked.move_to(FindingStatusChoices.RISK_ACCEPTED)
    locked.risk_accepted_by = actor
    locked.risk_accepted_until = until
    locked.risk_acceptance_reason = reason
    _save(locked, ["status", "risk_accepted_by", "risk_accepted_until", "risk_acceptance_reason"])
    finding_event(
        locked, FindingEventKindChoices.RISK_ACCEPTED, actor, f"Until {until:%Y-%m-%d} UTC. {reason}",
        until=until.isoformat(),
    )  # fmt: skip
    _refresh(finding, locked)
    return locked


@transaction.atomic
def finding_comment(*, actor, finding: Finding, body: str) -> FindingEvent:
    """A note on the finding's history; the status does not change."""
    body = _text(body, "body", required="Write something to comment.")
    locked = _lock(finding)
    return finding_event(locked, FindingEventKindChoices.COMMENTED, actor, body)


#
# The daily scan (approvals.escalate_findings)
#


def _escalation_recipients(finding: Finding, coe: list) -> list:
    return [*coe, finding.owner]


@transaction.atomic
def finding_escalate(*, finding: Finding, coe: list | None = None, now: datetime | None = None) -> bool:
    """Escalate one overdue live finding to the CoE (safe to repeat: once per finding)."""
    now = now or timezone.now()
    locked = _lock(finding)
    if locked.status not in FindingStatusChoices.LIVE or locked.escalated_at or locked.due_at > now:
        return False
    locked.escalated_at = now
    _save(locked, ["escalated_at"])
    finding_event(locked, FindingEventKindChoices.ESCALATED, None, f"Due {locked.due_at:%Y-%m-%d} UTC.")
    if coe is None:
        coe = coe_people()
    where = locked.use_case.key if locked.use_case_id else "the portfolio"
    notify(
        key=f"finding-escalated:{locked.pk}",
        recipients=_escalation_recipients(locked, coe),
        subject=f"Overdue finding escalated to the CoE: {locked.title}",
        body=(
            f"{locked.severity_label} finding #{locked.pk} on {where} was due {locked.due_at:%Y-%m-%d} UTC "
            f"and is still {locked.status_label.lower()}.\n{locked.detail}"
        ).strip(),
        link=locked.get_absolute_url(),
    )
    _refresh(finding, locked)
    return True


@transaction.atomic
def finding_expire_acceptance(*, finding: Finding, now: datetime | None = None) -> bool:
    """Reopen a finding whose risk acceptance ran out (safe to repeat)."""
    now = now or timezone.now()
    locked = _lock(finding)
    until = locked.risk_accepted_until
    if locked.status != FindingStatusChoices.RISK_ACCEPTED or until is None or until > now:
        return False
    locked.move_to(FindingStatusChoices.OPEN)
    locked.risk_accepted_until = None
    _save(locked, ["status", "risk_accepted_until"])
    finding_event(
        locked, FindingEventKindChoices.ACCEPTANCE_EXPIRED, None, f"The acceptance ended {until:%Y-%m-%d} UTC.",
        until=until.isoformat(),
    )  # fmt: skip
    notify(
        key=f"finding-acceptance-expired:{locked.pk}:{until:%Y%m%d%H%M%S}",
        # A finding nobody on a team owns is the CoE's: its people hear instead.
        recipients=[locked.owner] if locked.owner_id else coe_people(),
        subject=f"Risk acceptance expired, the finding is open again: {locked.title}",
        body=(
            f"The risk of finding #{locked.pk} was accepted until {until:%Y-%m-%d} UTC. Resolve it, or ask "
            f"the CoE to accept the risk again.\n{locked.detail}"
        ).strip(),
        link=locked.get_absolute_url(),
    )
    _refresh(finding, locked)
    return True


def coe_people() -> list:
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=ESCALATION_ROLES)
        .distinct()
        .order_by("username")
    )


def _in_batches(queryset, handle) -> int:
    """Handle the ids ``queryset`` yields, ``SCAN_BATCH`` at a time: memory stays bounded however
    many are due. Handled rows leave the queryset; a batch that changes nothing (another scan
    got there first) ends the loop."""
    done = 0
    while True:
        batch = list(queryset.values_list("pk", flat=True)[:SCAN_BATCH])
        changed = sum(handle(Finding(pk=pk)) for pk in batch)
        done += changed
        if len(batch) < SCAN_BATCH or not changed:
            return done


def findings_scan(now: datetime | None = None) -> dict:
    """Escalate live findings past their due date and reopen expired risk acceptances. Safe to
    run any number of times: an escalated finding is never escalated again, and each
    notification has its own key."""
    now = now or timezone.now()
    coe = coe_people()
    overdue = Finding.objects.filter(
        status__in=FindingStatusChoices.LIVE, escalated_at__isnull=True, due_at__lte=now
    ).order_by("due_at", "pk")
    lapsed = Finding.objects.filter(
        status=FindingStatusChoices.RISK_ACCEPTED, risk_accepted_until__lte=now
    ).order_by("risk_accepted_until", "pk")
    return {
        "escalated": _in_batches(
            overdue, lambda finding: finding_escalate(finding=finding, coe=coe, now=now)
        ),
        "acceptances_expired": _in_batches(
            lapsed, lambda finding: finding_expire_acceptance(finding=finding, now=now)
        ),
    }
