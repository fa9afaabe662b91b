"""approval-expiring: the approval a production use case relies on expires soon and nobody has
asked to re-certify it."""

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings

from approvals.audit_checks.common import (
    governed_use_cases,
    now_of,
    production_approval_states,
    use_case_link,
)
from approvals.choices import ApprovalStatusChoices, StageKindChoices
from approvals.models import ApprovalRequest
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


@register_check(
    id="approval-expiring",
    title="Approval to production expiring without re-certification",
    severity=SeverityChoices.MEDIUM,
    controls=("release_rollback.change_review",),
    description="The approval that keeps a use case in production expires within "
    "PROPYLON_AUDIT_EXPIRY_WARNING_DAYS days and no re-certification request is open for it.",
)
def approval_expiring(scope: AuditScope) -> Iterator[Observation]:
    now = now_of(scope)
    horizon = now + timedelta(days=settings.PROPYLON_AUDIT_EXPIRY_WARNING_DAYS)
    in_production = governed_use_cases(scope).filter(lifecycle_stage__kind=StageKindChoices.PRODUCTION)
    states = production_approval_states(in_production.values("pk"), now=now)
    renewing = set(
        ApprovalRequest.objects.filter(
            use_case__in=in_production.values("pk"),
            recertifies__isnull=False,
            status__in=ApprovalStatusChoices.OPEN,
        ).values_list("recertifies_id", flat=True)
    )
    for row in in_production.order_by("key").values("pk", "key", "name"):
        state = states.get(row["pk"])
        if state is None or not state.is_covered:
            continue
        # The approval that covers longest is the one the use case relies on (a newer release's
        # approval may outlive an older one).
        approval = state.valid[-1]
        expires_at = approval["expires_at"]
        if expires_at is None or expires_at > horizon or approval["pk"] in renewing:
            continue
        yield Observation(
            subject_key=f"{row['key']}:{approval['reference']}",
            title=f"{row['key']} {row['name']}: approval {approval['reference']} expires on {expires_at:%Y-%m-%d}",
            detail=(
                f"{approval['reference']} (release {approval['release__version']}) expires on "
                f"{expires_at:%Y-%m-%d %H:%M} UTC and no re-certification is open. Ask for re-certification from the "
                "Approvals tab before it lapses."
            ),
            use_case_id=row["pk"],
            link=use_case_link(row["key"], "approvals"),
            data={
                "approval": approval["pk"],
                "expires_at": expires_at.isoformat(),
                "days_left": max((expires_at - now).days, 0),
            },
        )
