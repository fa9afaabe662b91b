"""Gates: approval requests, decisions, quorum, expiry and revocation, and moves without a gate.

Policies are edited in :mod:`approvals.services.gate_policies`; the preflight and the quorum
arithmetic are reads (:mod:`approvals.selectors.preflight`, :mod:`approvals.selectors.gates`).

Every write here runs in one transaction with its audit entries and typed ``ApprovalEvent``
rows; views, API actions, jobs and the demo call these functions. Callers check who may ask,
decide or revoke (``portal.permissions``); these functions check the data and the rules that
are invariants of the design: segregation of duties, quorum per policy, one approval per
release (DESIGN.md §4, invariants 1 and 2).

Quorum. A policy lists approver requirements (role, count). A request is approved when every
requirement has ``count`` approving decisions from distinct eligible people in the current
round. One person counts once, for one requirement, even when they hold several approver
roles: the decisions are matched to the requirement slots (a bipartite matching), so a
security reviewer who is also a CoE reviewer never fills both slots. One reject ends the
request as rejected; one request for changes sends it back to the requester, whose
resubmission starts a new round (earlier decisions stay on record but count no more).

Races. Two reviewers deciding at the same moment both lock the request row
(``select_for_update``) before reading its decisions, so the second sees the first's decision
and the count is never lost or doubled; the unique (request, round, person) constraint
refuses a second vote from the same person even outside this code.

Expiry and re-certification. An approval's ``expires_at`` is the decision time plus the
policy's validity period. :func:`approval_covering` never returns an expired approval, whether
or not the periodic scan (``approvals.scan_gates``) has marked it expired yet. Re-certifying is
a new request for the same release and stage, pre-filled from the approval it renews
(``recertifies``), through the policy's current quorum; while it is pending the old approval
keeps covering the release until it expires.

Review SLA. A request is due ``review_sla_days`` business days (Monday to Friday, UTC; public
holidays are not modelled) after its (re)submission; after that it is overdue and the scan
notifies reviewers once per round.
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals.choices import (
    ApprovalEventChoices,
    ApprovalStatusChoices,
    DecisionChoices,
)
from approvals.models import (
    ApprovalComment,
    ApprovalDecision,
    ApprovalEvent,
    ApprovalRequest,
    LifecycleStage,
    LifecycleTransition,
)
from approvals.selectors.gates import (
    approving_voters,
    eligible_roles,
    quorum_state,
    release_data,
    segregation_conflict,
)
from approvals.selectors.preflight import Preflight, gate_preflight
from approvals.services import notifications
from approvals.services.lifecycle import apply_stage
from inventory.models import Release, UseCase
from inventory.services.catalog import release_freeze
from portal import audit
from portal.choices import AuditActionChoices
from portal.dates import add_business_days
from portal.roles import ROLE_LABELS

EXPIRY_WARNING_DAYS = (14, 3)
COMMENT_MAX_LENGTH = 10_000


#
# Snapshot at submission
#


def _snapshot(check: Preflight) -> dict:
    policy, maturity, risk = check.policy, check.maturity, check.risk_assessment
    register = check.use_case.risk_entries.order_by("pk")
    return {
        "taken_at": timezone.now().isoformat(),
        "policy": {
            "id": policy.pk,
            "transition": str(check.transition),
            "risk_tier": policy.risk_tier,
            "min_readiness": str(policy.min_readiness),
            "mandatory_checks": list(policy.mandatory_checks),
            "mandatory_evidence": list(policy.mandatory_evidence),
            "allows_conditions": policy.allows_conditions,
            "validity_days": policy.validity_days,
            "review_sla_days": policy.review_sla_days,
        },
        "risk": {
            "tier": check.use_case.risk_tier,
            "assessment_id": risk.pk if risk else None,
            "assessment_version": risk.version if risk else None,
            "catalog_version": risk.catalog_version if risk else None,
            "register": [
                {
                    "id": entry.pk,
                    "title": entry.title,
                    "residual_score": entry.residual_score,
                    "status": entry.status,
                }
                for entry in register
            ],
        },
        "maturity": (
            {
                "assessment_id": maturity.pk,
                "version": maturity.version,
                "rubric_version": getattr(maturity, "rubric_version", ""),
                "readiness": str(maturity.readiness),
                "scores": dict(maturity.scores),
                "results": {key: (value or {}).get("status", "") for key, value in maturity.results.items()},
            }
            if maturity is not None
            else None
        ),
        "evidence": [
            {"id": item.pk, "check_key": item.check_key, "kind": item.kind, "sha256": item.sha256}
            for item in check.evidence
        ],
        "release": release_data(check.release),
    }


def _event(request: ApprovalRequest, kind: str, actor=None, message: str = "", **data) -> ApprovalEvent:
    event = ApprovalEvent(
        request=request,
        kind=kind,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        message=message,
        data=data,
    )
    event.save()
    audit.record(
        AuditActionChoices.DECISION,
        obj=request,
        message=f"{request.reference} {ApprovalEventChoices.label(kind).lower()}"
        + (f": {message}" if message else ""),
        extra={"event": kind, "event_id": event.pk, **data},
    )
    return event


def _raise_preflight(check: Preflight) -> None:
    if not check.ok:
        raise check.as_error()


#
# Submission, resubmission, withdrawal
#


@transaction.atomic
def approval_request_submit(
    *, use_case: UseCase, release: Release | None, to_stage, actor, summary: str = "",
    recertifies: ApprovalRequest | None = None,
) -> ApprovalRequest:  # fmt: skip
    """Ask for a gate: runs the preflight again under a lock, snapshots policy, scores and
    evidence, freezes the release and tells the eligible reviewers (after commit)."""

    # Two submissions for the same use case at once would both pass the "already open" check.
    locked = (
        UseCase.objects.select_for_update(of=("self",))
        .select_related("lifecycle_stage", "owning_team")
        .get(pk=use_case.pk)
    )
    check = gate_preflight(use_case=locked, release=release, to_stage=to_stage, recertifies=recertifies)
    _raise_preflight(check)
    now = timezone.now()
    policy = check.policy
    request = ApprovalRequest(
        use_case=locked,
        release=release,
        transition=check.transition,
        from_stage=check.transition.from_stage,
        to_stage=check.transition.to_stage,
        policy=policy,
        summary=(summary or "").strip(),
        snapshot=_snapshot(check),
        quorum=policy.quorum(),
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        recertifies=recertifies,
        submitted_at=now,
        due_at=add_business_days(now, policy.review_sla_days),
    )
    request.full_clean()
    request.save()
    release_freeze(release=release, reason=f"gate request {request.reference}")
    _event(
        request,
        ApprovalEventChoices.SUBMITTED,
        actor,
        f"{locked.key} {release.version} → {request.to_stage.label}"
        + (f" (re-certifies {recertifies.reference})" if recertifies else ""),
        release=release.version,
        evidence_ids=[item["id"] for item in request.snapshot["evidence"]],
    )
    notifications.notify_request_submitted(request)
    return request


@transaction.atomic
def approval_request_resubmit(
    *, request: ApprovalRequest, actor, summary: str = "", release: Release | None = None
) -> ApprovalRequest:
    """After changes were requested: check again, snapshot again and start a new round
    (possibly with a new release of the same use case)."""

    locked = _lock(request)
    if locked.status != ApprovalStatusChoices.CHANGES_REQUESTED:
        raise ValidationError(
            f"{locked.reference} is {locked.status_label.lower()}; only a request sent back for changes is resubmitted."
        )
    release = release or locked.release
    check = gate_preflight(
        use_case=locked.use_case,
        release=release,
        to_stage=locked.to_stage,
        recertifies=locked.recertifies,
        exclude=locked,
    )
    if check.transition is not None and check.transition.pk != locked.transition_id:
        check.add("to_stage", "moved", f"{locked.use_case.key} moved since {locked.reference} was submitted.")
    _raise_preflight(check)
    now = timezone.now()
    locked.release = release
    locked.policy = check.policy
    locked.quorum = check.policy.quorum()
    locked.snapshot = _snapshot(check)
    locked.move_to(ApprovalStatusChoices.PENDING)
    locked.round += 1
    locked.submitted_at = now
    locked.due_at = add_business_days(now, check.policy.review_sla_days)
    if summary.strip():
        locked.summary = summary.strip()
    locked.full_clean()
    locked.save()
    release_freeze(release=release, reason=f"gate request {locked.reference}")
    _event(locked, ApprovalEventChoices.RESUBMITTED, actor, f"round {locked.round}", round=locked.round,
           release=release.version, evidence_ids=[item["id"] for item in locked.snapshot["evidence"]])  # fmt: skip
    notifications.notify_request_submitted(locked)
    _refresh(request, locked)
    return locked


@transaction.atomic
def approval_request_withdraw(*, request: ApprovalRequest, actor, reason: str = "") -> ApprovalRequest:
    locked = _lock(request)
    if not locked.is_open:
        raise ValidationError(
            f"{locked.reference} is {locked.status_label.lower()}; only open requests are withdrawn."
        )
    locked.move_to(ApprovalStatusChoices.WITHDRAWN)
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "decided_at"])
    _event(locked, ApprovalEventChoices.WITHDRAWN, actor, reason.strip())
    _refresh(request, locked)
    return locked


REQUEST_RELATED = (
    "use_case",
    "use_case__owning_team",
    "use_case__lifecycle_stage",
    "transition",
    "from_stage",
    "to_stage",
    "release",
    "policy",
    "requested_by",
)


def _lock(request: ApprovalRequest) -> ApprovalRequest:
    # of=self: PostgreSQL refuses to lock the nullable side of an outer join (requested_by).
    return (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .select_related(*REQUEST_RELATED)
        .get(pk=request.pk)
    )


def _refresh(stale: ApprovalRequest, fresh: ApprovalRequest) -> None:
    """Callers keep using the object they passed in: bring it up to date."""
    if stale is not fresh:
        stale.refresh_from_db()


#
# Decisions
#


@transaction.atomic
def approval_request_decide(
    *, request: ApprovalRequest, actor, decision: str, comment: str = "", conditions: str = ""
) -> ApprovalDecision:
    """Record one reviewer's decision and, when it completes the quorum, approve the request and
    move the use case in the same transaction. Raises ValidationError with a clear message when
    the person may not decide (segregation of duties, not an eligible approver, already decided)
    or the decision is incomplete; nothing is written then."""
    # The lock makes concurrent decisions queue here: each one reads the decisions committed
    # before it, so the quorum is counted once and exactly.
    locked = _lock(request)
    if locked.status != ApprovalStatusChoices.PENDING:
        raise ValidationError(
            f"{locked.reference} is {locked.status_label.lower()}; it is not waiting for decisions."
        )
    if decision not in DecisionChoices.values():
        raise ValidationError(
            {"decision": f"“{decision}” is not a decision; use one of {', '.join(DecisionChoices.values())}."}
        )
    conflict = segregation_conflict(locked, actor)
    if conflict:
        raise ValidationError(conflict)
    roles = eligible_roles(actor, locked.quorum)
    if not roles:
        wanted = ", ".join(ROLE_LABELS.get(role, role) for role in sorted(locked.quorum))
        raise ValidationError(
            f"{locked.reference} needs decisions from: {wanted}. You hold none of these roles."
        )
    if locked.decisions.filter(round=locked.round, decided_by=actor).exists():
        raise ValidationError(f"You already decided on {locked.reference} in this round.")
    comment, conditions = (comment or "").strip(), (conditions or "").strip()
    if decision == DecisionChoices.APPROVE_WITH_CONDITIONS:
        if not locked.snapshot.get("policy", {}).get("allows_conditions", locked.policy.allows_conditions):
            raise ValidationError({"decision": "This gate's policy does not allow approval with conditions."})
        if not conditions:
            raise ValidationError({"conditions": "Write the conditions the approval is given under."})
    elif conditions:
        raise ValidationError({"conditions": "Conditions go with “approve with conditions” only."})
    if decision in (DecisionChoices.REJECT, DecisionChoices.REQUEST_CHANGES) and not comment:
        raise ValidationError({"comment": "Say why, so the requester knows what to do."})
    if len(comment) > COMMENT_MAX_LENGTH or len(conditions) > COMMENT_MAX_LENGTH:
        raise ValidationError({"comment": f"Keep it under {COMMENT_MAX_LENGTH} characters."})
    record = ApprovalDecision(
        request=locked,
        round=locked.round,
        decided_by=actor,
        roles=roles,
        decision=decision,
        comment=comment,
        conditions=conditions,
        decided_at=timezone.now(),
    )
    record.full_clean()
    record.save()
    _event(locked, ApprovalEventChoices.DECIDED, actor, DecisionChoices.label(decision),
           decision=decision, decision_id=record.pk, roles=roles, round=locked.round)  # fmt: skip
    if decision == DecisionChoices.REJECT:
        _close(locked, ApprovalStatusChoices.REJECTED, ApprovalEventChoices.REJECTED, actor, comment)
    elif decision == DecisionChoices.REQUEST_CHANGES:
        locked.move_to(ApprovalStatusChoices.CHANGES_REQUESTED)
        locked.save(update_fields=["status"])
        _event(locked, ApprovalEventChoices.CHANGES_REQUESTED, actor, comment)
        notifications.notify_decision(locked, record)
    else:
        met, _filled = quorum_state(locked.quorum, approving_voters(locked))
        if met:
            _approve(locked, actor)
        else:
            notifications.notify_decision(locked, record)
    _refresh(request, locked)
    return record


def _close(request: ApprovalRequest, status: str, kind: str, actor, message: str) -> None:
    request.move_to(status)
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_at"])
    _event(request, kind, actor, message)
    notifications.notify_outcome(request)


def _approve(request: ApprovalRequest, actor) -> None:
    now = timezone.now()
    use_case = (
        UseCase.objects.select_for_update(of=("self",))
        .select_related("lifecycle_stage")
        .get(pk=request.use_case_id)
    )
    renewing = request.recertifies_id is not None
    expected = request.to_stage if renewing else request.from_stage
    if use_case.lifecycle_stage_id != expected.pk:
        raise ValidationError(
            f"{use_case.key} is at {use_case.stage_label} now, not {expected.label}: {request.reference} can no "
            "longer be approved; withdraw it and ask again."
        )
    conditions = [
        decision.conditions
        for decision in request.decisions.filter(
            round=request.round, decision=DecisionChoices.APPROVE_WITH_CONDITIONS
        ).order_by("decided_at", "pk")
    ]
    validity = request.snapshot.get("policy", {}).get("validity_days", request.policy.validity_days)
    request.move_to(ApprovalStatusChoices.APPROVED)
    request.decided_at = now
    request.expires_at = now + timedelta(days=validity) if validity else None
    request.conditions = "\n\n".join(conditions)
    request.save(update_fields=["status", "decided_at", "expires_at", "conditions"])
    _event(
        request,
        ApprovalEventChoices.APPROVED,
        actor,
        "quorum reached" + (" with conditions" if conditions else ""),
        expires_at=request.expires_at.isoformat() if request.expires_at else None,
    )
    if renewing:
        previous = request.recertifies
        _event(previous, ApprovalEventChoices.RECERTIFIED, actor, f"renewed by {request.reference}",
               renewed_by=request.pk)  # fmt: skip
    else:
        before = use_case.lifecycle_stage
        apply_stage(use_case=use_case, stage=request.to_stage)
        _event(request, ApprovalEventChoices.STAGE_CHANGED, actor, f"{before.label} → {request.to_stage.label}",
               from_stage=before.key, to_stage=request.to_stage.key)  # fmt: skip
    notifications.notify_outcome(request)


#
# Comments, revocation, expiry, re-certification
#


@transaction.atomic
def approval_request_comment(
    *, request: ApprovalRequest, actor, body: str, parent: ApprovalComment | None = None
) -> ApprovalComment:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write something to comment."})
    if len(body) > COMMENT_MAX_LENGTH:
        raise ValidationError({"body": f"Keep comments under {COMMENT_MAX_LENGTH} characters."})
    if parent is not None and parent.request_id != request.pk:
        raise ValidationError({"parent": "You can reply only to a comment on the same request."})
    comment = ApprovalComment(
        request=request, parent=parent, author=actor, body=body, created_at=timezone.now()
    )
    comment.full_clean()
    comment.save()
    _event(request, ApprovalEventChoices.COMMENTED, actor, "", comment_id=comment.pk,
           parent_id=parent.pk if parent else None)  # fmt: skip
    return comment


@transaction.atomic
def approval_request_revoke(*, request: ApprovalRequest, actor, reason: str) -> ApprovalRequest:
    """The CoE lead withdraws an approval: it stops covering its release at once. The use case
    keeps its stage (moving it is a separate, deliberate step)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the approval is revoked."})
    locked = _lock(request)
    if locked.status != ApprovalStatusChoices.APPROVED:
        raise ValidationError(
            f"{locked.reference} is {locked.status_label.lower()}; only an approval is revoked."
        )
    locked.move_to(ApprovalStatusChoices.REVOKED)
    locked.revoked_at = timezone.now()
    locked.revoked_by = actor
    locked.revoke_reason = reason
    locked.save(update_fields=["status", "revoked_at", "revoked_by", "revoke_reason"])
    _event(locked, ApprovalEventChoices.REVOKED, actor, reason)
    notifications.notify_outcome(locked)
    _refresh(request, locked)
    return locked


@transaction.atomic
def approval_request_expire(*, request: ApprovalRequest, now: datetime | None = None) -> bool:
    """Mark an approval past its validity as expired (the scan calls this; safe to repeat)."""
    now = now or timezone.now()
    locked = _lock(request)
    if (
        locked.status != ApprovalStatusChoices.APPROVED
        or locked.expires_at is None
        or locked.expires_at > now
    ):
        return False
    locked.move_to(ApprovalStatusChoices.EXPIRED)
    locked.save(update_fields=["status"])
    _event(
        locked, ApprovalEventChoices.EXPIRED, None, f"validity ended {locked.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    notifications.notify_outcome(locked)
    _refresh(request, locked)
    return True


@transaction.atomic
def approval_request_recertify(*, request: ApprovalRequest, actor, summary: str = "") -> ApprovalRequest:
    """Renew an approval (approved or expired, not revoked): a new request for the same release
    and stage, checked against today's policy and decided by its quorum."""
    if request.status not in (ApprovalStatusChoices.APPROVED, ApprovalStatusChoices.EXPIRED):
        raise ValidationError(
            f"{request.reference} is {request.status_label.lower()}; only an approved or expired request is "
            "re-certified."
        )
    return approval_request_submit(
        use_case=request.use_case,
        release=request.release,
        to_stage=request.to_stage,
        actor=actor,
        summary=summary or f"Re-certification of {request.reference}.",
        recertifies=request,
    )


def gates_scan(now=None) -> dict:
    """Expire approvals past their validity, and notify overdue requests and approvals about
    to expire. Safe to run any number of times: each notification has its own key."""
    now = now or timezone.now()
    related = ("use_case", "use_case__owning_team", "release", "from_stage", "to_stage", "requested_by")
    expired = 0
    for request in ApprovalRequest.objects.filter(status=ApprovalStatusChoices.APPROVED, expires_at__lte=now):
        expired += approval_request_expire(request=request, now=now)
    overdue = 0
    for request in ApprovalRequest.objects.select_related(*related).overdue(now):
        overdue += notifications.notify_overdue(request)
    expiring = 0
    horizon = now + timedelta(days=max(EXPIRY_WARNING_DAYS))
    for request in ApprovalRequest.objects.select_related(*related).filter(
        Q(status=ApprovalStatusChoices.APPROVED), expires_at__gt=now, expires_at__lte=horizon
    ):
        left = request.expires_at - now
        for days in sorted(EXPIRY_WARNING_DAYS):
            if left <= timedelta(days=days):
                # Only the tightest threshold reached: a 2-day warning makes the 14-day one moot.
                expiring += notifications.notify_expiring(request, days)
                break
    return {"expired": expired, "overdue_notifications": overdue, "expiry_notifications": expiring}


@transaction.atomic
def lifecycle_move(*, use_case: UseCase, to_stage: LifecycleStage, actor, reason: str = "") -> UseCase:
    """Move a use case along a transition that needs no gate (e.g. → on hold). Open gate requests
    that no longer start from the new stage are withdrawn, as their approval could not apply."""
    locked = (
        UseCase.objects.select_for_update(of=("self",)).select_related("lifecycle_stage").get(pk=use_case.pk)
    )
    if locked.is_draft:
        raise ValidationError(f"{locked.key} is a draft; submit it to enter the lifecycle.")
    if to_stage is None:
        raise ValidationError({"to_stage": "Choose the stage to move to."})
    current = locked.lifecycle_stage
    transition = LifecycleTransition.objects.filter(from_stage=current, to_stage=to_stage).first()
    if transition is None:
        raise ValidationError(
            {"to_stage": f"The lifecycle allows no move from {current.label} to {to_stage.label}."}
        )
    if transition.requires_gate:
        raise ValidationError(
            {
                "to_stage": f"{current.label} → {to_stage.label} is a gate: ask for it with a release to approve."
            }
        )
    apply_stage(use_case=locked, stage=to_stage)
    audit.record(
        AuditActionChoices.DECISION,
        obj=locked,
        message=f"{locked.key} moved from {current.label} to {to_stage.label}"
        + (f": {reason.strip()}" if reason.strip() else ""),
        extra={"from_stage": current.key, "to_stage": to_stage.key, "gated": False},
    )
    for request in ApprovalRequest.objects.filter(
        use_case=locked, status__in=ApprovalStatusChoices.OPEN
    ).exclude(from_stage=to_stage):
        approval_request_withdraw(
            request=request, actor=actor, reason=f"{locked.key} moved to {to_stage.label}."
        )
    use_case.lifecycle_stage, use_case.updated_at = locked.lifecycle_stage, locked.updated_at
    return locked
