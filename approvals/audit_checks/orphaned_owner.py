"""orphaned-owner: the accountable owner has left or is not in the owning team."""

from collections.abc import Iterator

from approvals.audit_checks.common import governed_use_cases, use_case_link
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


@register_check(
    id="orphaned-owner",
    title="Use case without an active accountable owner",
    severity=SeverityChoices.HIGH,
    controls=("ownership.accountable_owner_active", "ownership.handover_plan"),
    description="The accountable owner is inactive (has left) or is not a member of the owning team: "
    "nobody answers for the use case's risk, cost and results until someone is reassigned.",
)
def orphaned_owner(scope: AuditScope) -> Iterator[Observation]:
    rows = (
        governed_use_cases(scope)
        .orphaned()
        .order_by("key")
        .values(
            "pk",
            "key",
            "name",
            "owning_team__name",
            "accountable_owner__username",
            "accountable_owner__first_name",
            "accountable_owner__last_name",
            "accountable_owner__is_active",
        )
    )
    for row in rows:
        owner = (
            f"{row['accountable_owner__first_name']} {row['accountable_owner__last_name']}".strip()
            or row["accountable_owner__username"]
        )
        why = (
            f"{owner} is no longer active"
            if not row["accountable_owner__is_active"]
            else f"{owner} is not a member of {row['owning_team__name']}"
        )
        yield Observation(
            subject_key=row["key"],
            title=f"{row['key']} {row['name']} has no active accountable owner",
            detail=f"{why}. Reassign the accountable owner to an active member of the owning team.",
            use_case_id=row["pk"],
            # The owner cannot act on their own absence: the CoE sees that someone is reassigned.
            owned_by_coe=True,
            link=use_case_link(row["key"], "ownership"),
            data={
                "owner": row["accountable_owner__username"],
                "owner_active": row["accountable_owner__is_active"],
            },
        )
