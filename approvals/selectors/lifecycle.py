"""Reads of the lifecycle: the moves open to a use case from where it is now."""

from approvals.models import LifecycleTransition
from inventory.models import UseCase


def direct_moves(use_case: UseCase) -> list[LifecycleTransition]:
    """The non-gated moves open to the use case from where it is now."""
    if use_case.is_draft:
        return []
    return list(
        LifecycleTransition.objects.filter(from_stage_id=use_case.lifecycle_stage_id, requires_gate=False)
        .select_related("to_stage")
        .order_by("to_stage__order")
    )


def gated_moves(use_case: UseCase) -> list[LifecycleTransition]:
    if use_case.is_draft:
        return []
    return list(
        LifecycleTransition.objects.filter(from_stage_id=use_case.lifecycle_stage_id, requires_gate=True)
        .select_related("to_stage", "from_stage")
        .order_by("to_stage__order")
    )
