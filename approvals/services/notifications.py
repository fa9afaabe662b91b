"""Who hears about a gate, and when (through ``portal.notifications.notify``).

* submitted or resubmitted → the eligible reviewers (holders of a required role, minus the
  requester, the owners and the owning team), once per round;
* a decision → the requester and the use case's owners;
* approved, rejected, revoked, expired → the requester and the owners;
* overdue (past the SLA) → the eligible reviewers who have not decided yet, once per round;
* an approval expiring in 14 and in 3 days → the requester and the owners, once per threshold.

Every key names the event, so a second call (a retried scan, a double submit) sends nothing.
"""

from approvals.choices import ApprovalStatusChoices, DecisionChoices
from approvals.models import ApprovalDecision, ApprovalRequest
from approvals.selectors.gates import eligible_reviewers, owners
from portal.notifications import notify


def _requester_and_owners(request: ApprovalRequest) -> list:

    return [request.requested_by, *owners(request.use_case)]


def _about(request: ApprovalRequest) -> str:
    use_case = request.use_case
    return (
        f"{use_case.key} {use_case.name}: release {request.release.version}, "
        f"{request.from_stage.label} → {request.to_stage.label} ({use_case.get_risk_tier_display()} risk)."
    )


def notify_request_submitted(request: ApprovalRequest) -> None:
    notify(
        key=f"gate-submitted:{request.pk}:{request.round}",
        recipients=eligible_reviewers(request),
        subject=f"{request.reference} waits for your review: {request.use_case.key} → {request.to_stage.label}",
        body=(
            f"{_about(request)}\nDue {request.due_at:%Y-%m-%d %H:%M} UTC. "
            f"Asked by {request.requested_by.display_name if request.requested_by else 'someone'}."
        ),
        link=request.get_absolute_url(),
    )


def notify_decision(request: ApprovalRequest, decision: ApprovalDecision) -> None:
    by = decision.decided_by.display_name
    notify(
        key=f"gate-decision:{request.pk}:{decision.pk}",
        recipients=_requester_and_owners(request),
        subject=f"{request.reference}: {by} decided “{DecisionChoices.label(decision.decision)}”",
        body=f"{_about(request)}\n{decision.comment or ''}".strip(),
        link=request.get_absolute_url(),
    )


def notify_outcome(request: ApprovalRequest) -> None:
    status = request.status
    detail = {
        ApprovalStatusChoices.APPROVED: (
            f"Valid until {request.expires_at:%Y-%m-%d} UTC." if request.expires_at else "It does not expire."
        )
        + (f"\nConditions:\n{request.conditions}" if request.conditions else ""),
        ApprovalStatusChoices.REVOKED: f"Reason: {request.revoke_reason}",
        ApprovalStatusChoices.EXPIRED: "Re-certify it to keep the release covered.",
    }.get(status, "")
    notify(
        key=f"gate-{status}:{request.pk}:{request.round}",
        recipients=_requester_and_owners(request),
        subject=f"{request.reference} {request.status_label.lower()}: {request.use_case.key} → {request.to_stage.label}",
        body=f"{_about(request)}\n{detail}".strip(),
        link=request.get_absolute_url(),
    )


def notify_overdue(request: ApprovalRequest) -> int:
    decided = set(request.decisions.filter(round=request.round).values_list("decided_by_id", flat=True))
    waiting = [person for person in eligible_reviewers(request) if person.pk not in decided]
    created = notify(
        key=f"gate-overdue:{request.pk}:{request.round}",
        recipients=waiting,
        subject=f"{request.reference} is overdue: {request.use_case.key} → {request.to_stage.label}",
        body=f"{_about(request)}\nIt was due {request.due_at:%Y-%m-%d %H:%M} UTC.",
        link=request.get_absolute_url(),
    )
    return len(created)


def notify_expiring(request: ApprovalRequest, days: int) -> int:
    created = notify(
        key=f"gate-expiring:{request.pk}:{days}d",
        recipients=_requester_and_owners(request),
        subject=f"{request.reference} expires within {days} days: {request.use_case.key} {request.to_stage.label}",
        body=f"{_about(request)}\nIt expires {request.expires_at:%Y-%m-%d %H:%M} UTC; re-certify it before then.",
        link=request.get_absolute_url(),
    )
    return len(created)
