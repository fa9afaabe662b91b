"""The lifecycle as data: the CoE lead's stages and transitions, and how a use case moves.

A use case's stage changes in exactly three places:

* at filing, to the intake stage (``inventory.services.usecases.usecase_submit``);
* when a gate request is approved (``approvals.services.gates.approval_request_decide`` → :func:`apply_stage`,
  in the same transaction as the deciding vote);
* by :func:`lifecycle_move`, for transitions that need no gate (e.g. → on hold).

Forms, the API, the import and the descriptors refuse any other change of stage (tests guard
each path). Stage keys are stable: they are in URLs, filters, descriptors and exports.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from approvals.choices import ApprovalStatusChoices, StageKindChoices
from approvals.models import ApprovalRequest, LifecycleStage, LifecycleTransition
from inventory.models import UseCase
from inventory.services.usecases import INTAKE_STAGE_KEY
from portal.templatetags.portal_tags import BADGE_COLOURS

STAGE_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
STAGE_FIELDS = ("label", "kind", "order", "colour", "description")


def _check_colour(colour: str) -> None:
    if colour not in BADGE_COLOURS:
        raise ValidationError(
            {"colour": f"“{colour}” is not a badge colour; use one of {', '.join(sorted(BADGE_COLOURS))}."}
        )


@transaction.atomic
def stage_create(*, actor, key: str, label: str, kind: str, order: int, colour: str = "grey",
                 description: str = "") -> LifecycleStage:  # fmt: skip
    key = (key or "").strip().lower()
    if not STAGE_KEY_PATTERN.match(key):
        raise ValidationError(
            {"key": "A stage key is 2-40 lowercase letters, digits or underscores, starting with a letter."}
        )
    if LifecycleStage.objects.filter(key=key).exists():
        raise ValidationError({"key": f"There is already a stage “{key}”."})
    _check_colour(colour)
    stage = LifecycleStage(
        key=key, label=label, kind=kind, order=order, colour=colour, description=description
    )
    stage.full_clean()
    stage.save()
    return stage


@transaction.atomic
def stage_update(*, stage: LifecycleStage, actor, **changes) -> LifecycleStage:
    """Change a stage's label, kind, order, colour or description; its key never changes."""
    if "key" in changes and changes["key"] != stage.key:
        raise ValidationError({"key": "Stage keys are stable (URLs, filters and descriptors use them)."})
    changes.pop("key", None)
    unknown = set(changes) - set(STAGE_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed on a stage: {', '.join(sorted(unknown))}.")
    if "colour" in changes:
        _check_colour(changes["colour"])
    if stage.key == INTAKE_STAGE_KEY and changes.get("kind", stage.kind) != StageKindChoices.INTAKE:
        raise ValidationError(
            {"kind": f"“{INTAKE_STAGE_KEY}” is where filed use cases enter; it stays an intake stage."}
        )
    for name, value in changes.items():
        setattr(stage, name, value)
    stage.full_clean()
    stage.save()
    return stage


@transaction.atomic
def stage_delete(*, stage: LifecycleStage, actor) -> None:
    """Remove a stage nobody uses: no use case at it, not the intake stage, no request through it."""
    if stage.key == INTAKE_STAGE_KEY:
        raise ValidationError(
            f"“{stage.label}” is where filed use cases enter the lifecycle; it cannot be deleted."
        )
    in_use = UseCase.objects.filter(lifecycle_stage=stage).count()
    if in_use:
        raise ValidationError(
            f"{in_use} use case(s) are at “{stage.label}”; move them before deleting the stage."
        )
    if ApprovalRequest.objects.filter(Q(from_stage=stage) | Q(to_stage=stage)).exists():
        raise ValidationError(f"Gate requests went through “{stage.label}”; it is kept for the record.")
    for transition in LifecycleTransition.objects.filter(Q(from_stage=stage) | Q(to_stage=stage)):
        transition.delete()  # its policies go with it (none was used: checked above)
    stage.delete()


@transaction.atomic
def transition_create(*, actor, from_stage: LifecycleStage, to_stage: LifecycleStage,
                      requires_gate: bool = True) -> LifecycleTransition:  # fmt: skip
    if from_stage is None or to_stage is None:
        raise ValidationError({"to_stage": "A transition needs a stage to move from and one to move to."})
    if from_stage.pk == to_stage.pk:
        raise ValidationError({"to_stage": "A transition moves to another stage."})
    if LifecycleTransition.objects.filter(from_stage=from_stage, to_stage=to_stage).exists():
        raise ValidationError({"to_stage": f"{from_stage.label} → {to_stage.label} already exists."})
    transition = LifecycleTransition(from_stage=from_stage, to_stage=to_stage, requires_gate=requires_gate)
    transition.full_clean()
    transition.save()
    return transition


@transaction.atomic
def transition_update(*, transition: LifecycleTransition, actor, requires_gate: bool) -> LifecycleTransition:
    """Gate or un-gate a move. Its stages never change (delete it and add another instead)."""
    if requires_gate == transition.requires_gate:
        return transition
    if not requires_gate:
        if transition.gate_policies.exists():
            raise ValidationError(
                {"requires_gate": f"{transition} has gate policies; delete them before removing the gate."}
            )
        if transition.approval_requests.filter(status__in=ApprovalStatusChoices.OPEN).exists():
            raise ValidationError(
                {"requires_gate": f"Requests for {transition} are open; decide or withdraw them first."}
            )
    transition.requires_gate = requires_gate
    transition.full_clean()
    transition.save()
    return transition


@transaction.atomic
def transition_delete(*, transition: LifecycleTransition, actor) -> None:
    if transition.approval_requests.exists():
        raise ValidationError(f"Gate requests used {transition}; it is kept for the record.")
    transition.delete()


#
# Moving a use case
#


def apply_stage(*, use_case: UseCase, stage: LifecycleStage) -> UseCase:
    """Set the stage. Only the gate's approval and :func:`lifecycle_move` call this, inside their
    transactions and with the use case row locked; the audit trail records the change."""
    use_case.lifecycle_stage = stage
    use_case.updated_at = timezone.now()
    use_case.save(update_fields=["lifecycle_stage", "updated_at"])
    return use_case
