"""Operations' audit checks (DESIGN.md §4 invariant 1, watched after the fact).

production-without-approval reports two subjects:

(a) a use case at a production-kind lifecycle stage with no valid (approved, unexpired) approval
    to production for any release, unless its latest approval simply lapsed: that is
    ``approval-expired`` (approvals), which asks for re-certification, and one use case is never
    reported by both;
(b) a current deployment in a production environment whose release no valid approval to
    production covers now (``approval_covering()``'s rule, read in bulk: one query for every
    deployment). A use case reported under (b) is not reported again under (a).
"""

from collections.abc import Iterator

from django.db.models import Q

from approvals.audit_checks.common import (
    EMPTY_STATE,
    governed_use_cases,
    now_of,
    production_approval_states,
    use_case_link,
)
from approvals.choices import StageKindChoices
from inventory.choices import EnvironmentKindChoices
from operations.models import Deployment
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


@register_check(
    id="production-without-approval",
    title="In production without a covering approval",
    severity=SeverityChoices.CRITICAL,
    controls=("release_rollback.change_review", "security_access.deployments_via_target"),
    description="A use case is in production, or a release runs in a production environment, and no "
    "valid approval to production covers it: nothing reaches production without one.",
)
def production_without_approval(scope: AuditScope) -> Iterator[Observation]:
    now = now_of(scope)
    current_in_production = Deployment.objects.filter(
        is_current=True, environment__kind=EnvironmentKindChoices.PRODUCTION
    )
    in_production = governed_use_cases(scope).filter(lifecycle_stage__kind=StageKindChoices.PRODUCTION)
    # One query for the approvals of both kinds of subject (the ids stay a subquery).
    states = production_approval_states(
        governed_use_cases(scope)
        .filter(
            Q(lifecycle_stage__kind=StageKindChoices.PRODUCTION)
            | Q(pk__in=current_in_production.values("use_case_id"))
        )
        .values("pk"),
        now=now,
    )
    reported: set[int] = set()

    deployments = (
        current_in_production.filter(use_case__in=governed_use_cases(scope).values("pk"))
        .order_by("use_case__key", "environment__slug")
        .values("pk", "use_case_id", "use_case__key", "use_case__name", "release_id", "release__version",
                "environment__slug", "environment__name")
    )  # fmt: skip
    for row in deployments:
        state = states.get(row["use_case_id"], EMPTY_STATE)
        if any(approval["release_id"] == row["release_id"] for approval in state.valid):
            continue
        reported.add(row["use_case_id"])
        key = row["use_case__key"]
        yield Observation(
            subject_key=f"{key}@{row['environment__slug']}:{row['release__version']}",
            title=f"{key} {row['use_case__name']}: release {row['release__version']} runs in "
            f"{row['environment__name']} without a covering approval",
            detail=(
                f"Deployment #{row['pk']} is current in {row['environment__name']}, but no valid approval to "
                f"production covers release {row['release__version']}. Roll back to an approved release, or "
                "ask for (or re-certify) an approval of this one."
            ),
            use_case_id=row["use_case_id"],
            link=use_case_link(key, "deployments"),
            data={
                "deployment": row["pk"],
                "release": row["release__version"],
                "environment": row["environment__slug"],
            },
        )

    for row in in_production.order_by("key").values("pk", "key", "name", "onboarding_attested"):
        state = states.get(row["pk"], EMPTY_STATE)
        if row["pk"] in reported or state.is_covered or state.latest_expired:
            continue
        if state.latest is not None:
            why = f"its latest approval to production, {state.latest['reference']}, was revoked"
        elif row["onboarding_attested"]:
            why = "it was onboarded into production by attestation and has never passed the production gate"
        else:
            why = "no approval to production was ever given"
        yield Observation(
            subject_key=row["key"],
            title=f"{row['key']} {row['name']} is in production without an approval",
            detail=f"It is at a production stage, but {why}. Ask for the production gate for the release "
            "that runs, or move it out of production.",
            use_case_id=row["pk"],
            link=use_case_link(row["key"], "approvals"),
            data={"latest_approval": state.latest["pk"] if state.latest else None},
        )
