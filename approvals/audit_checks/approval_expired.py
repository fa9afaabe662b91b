"""approval-expired: a use case in production whose approval to production has lapsed.

"In production" here is the lifecycle stage (kind production). A current production deployment
of a release without a covering approval is the operations check
``production-without-approval``: approvals sits below operations and does not read deployments.
A use case whose latest approval to production was revoked, or that never had one, is
``production-without-approval`` too (critical); this check reports the lapse that
re-certification fixes, and the two never report the same use case.
"""

from collections.abc import Iterator

from approvals.audit_checks.common import (
    EMPTY_STATE,
    governed_use_cases,
    now_of,
    production_approval_states,
    use_case_link,
)
from approvals.choices import StageKindChoices
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


@register_check(
    id="approval-expired",
    title="Approval to production expired",
    severity=SeverityChoices.HIGH,
    controls=("release_rollback.change_review",),
    description="A use case is in production, its latest approval to production has expired and no "
    "valid approval covers it: re-certify the release (or take it out of production).",
)
def approval_expired(scope: AuditScope) -> Iterator[Observation]:
    now = now_of(scope)
    in_production = governed_use_cases(scope).filter(lifecycle_stage__kind=StageKindChoices.PRODUCTION)
    states = production_approval_states(in_production.values("pk"), now=now)
    for row in in_production.order_by("key").values("pk", "key", "name"):
        state = states.get(row["pk"], EMPTY_STATE)
        if state.is_covered or not state.latest_expired:
            continue
        approval = state.latest
        yield Observation(
            subject_key=f"{row['key']}:{approval['reference']}",
            title=f"{row['key']} {row['name']} runs in production on an expired approval",
            detail=(
                f"{approval['reference']} (release {approval['release__version']}) expired on "
                f"{approval['expires_at']:%Y-%m-%d} and no other approval to production is valid. "
                "Re-certify it from the Approvals tab."
            ),
            use_case_id=row["pk"],
            link=use_case_link(row["key"], "approvals"),
            data={"approval": approval["pk"], "expired_at": approval["expires_at"].isoformat()},
        )
