"""Gate policies: what a move through a gate requires for each risk tier (the CoE lead edits
them; requests snapshot the policy they were judged by)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.models import (
    APPROVER_ROLES,
    GateApproverRequirement,
    GatePolicy,
)


def _clean_requirements(requirements) -> dict[str, int]:
    if requirements is None:
        return {}
    if not isinstance(requirements, dict):
        raise ValidationError(
            {"requirements": "Give approver roles with a count each, e.g. {coe-reviewer: 2}."}
        )
    cleaned = {}
    for role, count in requirements.items():
        if role not in APPROVER_ROLES:
            raise ValidationError(
                {"requirements": f"“{role}” is not an approver role; use one of {', '.join(APPROVER_ROLES)}."}
            )
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 10:
            raise ValidationError(
                {"requirements": f"The count for {role} must be a whole number from 0 to 10."}
            )
        if count:
            cleaned[role] = count
    return cleaned


@transaction.atomic
def gate_policy_save(
    *, actor, policy: GatePolicy | None = None, transition=None, risk_tier=None, requirements=None, **values
) -> GatePolicy:
    """Create (no ``policy``) or change a gate policy and replace its approver requirements
    (``{role: count}``; a count of 0 removes the role). Requests already submitted keep the
    quorum and policy values they snapshotted."""
    unknown = set(values) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be set on a gate policy: {', '.join(sorted(unknown))}.")
    creating = policy is None
    if creating:
        policy = GatePolicy(transition=transition, risk_tier=risk_tier or GatePolicy.ANY_TIER)
    else:
        if transition is not None and transition.pk != policy.transition_id:
            raise ValidationError(
                {"transition": "A policy stays with its transition; create a new policy instead."}
            )
        if risk_tier is not None and risk_tier != policy.risk_tier:
            raise ValidationError({"risk_tier": "A policy stays with its tier; create a new policy instead."})
    for name, value in values.items():
        setattr(policy, name, value)
    policy.updated_at = timezone.now()
    policy.full_clean()
    cleaned = _clean_requirements(requirements) if requirements is not None else None
    if creating and not cleaned and not policy.blocked:
        raise ValidationError(
            {"requirements": "Name at least one approver role, or mark the policy blocked."}
        )
    policy.save()
    if cleaned is not None:
        existing = {row.role: row for row in policy.approver_requirements.all()}
        for role, row in existing.items():
            if role not in cleaned:
                row.delete()
        for role, count in cleaned.items():
            row = existing.get(role)
            if row is None:
                row = GateApproverRequirement(policy=policy, role=role, count=count)
            elif row.count == count:
                continue
            row.count = count
            row.full_clean()
            row.save()
        if not cleaned and not policy.blocked:
            raise ValidationError(
                {"requirements": "Name at least one approver role, or mark the policy blocked."}
            )
    return policy


@transaction.atomic
def gate_policy_delete(*, policy: GatePolicy, actor) -> None:
    """Remove a policy no request used; a used one is kept for the record (change it instead)."""
    if policy.approval_requests.exists():
        raise ValidationError(
            f"{policy} was used by {policy.approval_requests.count()} request(s) and is kept for the "
            "record; change it instead."
        )
    policy.delete()


POLICY_FIELDS = (
    "min_readiness",
    "mandatory_checks",
    "mandatory_evidence",
    "requires_risk_assessment",
    "allows_conditions",
    "blocked",
    "validity_days",
    "review_sla_days",
    "description",
)
