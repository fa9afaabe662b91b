"""pilot-stalled: a use case has sat in an active (pilot) stage for too long.

When it entered the stage: the audit trail records every change of ``UseCase.lifecycle_stage``
(the gate's approval, a move without a gate, the intake at filing; ``portal.audit``), so the
latest entry that changed the field is the time it entered the stage it is at. There is no
"entered stage at" field. A use case with no such entry (loaded before the trail existed) falls
back to its submission, then its creation.
"""

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast, Coalesce

from approvals.audit_checks.common import governed_use_cases, now_of, use_case_link
from approvals.choices import StageKindChoices
from inventory.models import UseCase
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices
from portal.models import AuditEntry


def entered_stage_at():
    """An expression: when the use case (the outer row) last changed stage."""
    last_move = (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(UseCase),
            object_id=Cast(OuterRef("pk"), CharField()),
            changes__has_key="lifecycle_stage",
        )
        .order_by("-id")
        .values("time")[:1]
    )
    return Coalesce(Subquery(last_move), "submitted_at", "created_at")


@register_check(
    id="pilot-stalled",
    title="Pilot stalled",
    severity=SeverityChoices.MEDIUM,
    controls=("testing_validation.success_criteria",),
    description="A use case has been in an active (pilot) stage for longer than "
    "PROPYLON_AUDIT_PILOT_STALLED_DAYS days: take it through its next gate, put it on hold or retire it.",
)
def pilot_stalled(scope: AuditScope) -> Iterator[Observation]:
    now = now_of(scope)
    days = settings.PROPYLON_AUDIT_PILOT_STALLED_DAYS
    rows = (
        governed_use_cases(scope)
        .filter(lifecycle_stage__kind=StageKindChoices.ACTIVE)
        .annotate(entered_at=entered_stage_at())
        .filter(entered_at__lt=now - timedelta(days=days))
        .order_by("key")
        .values("pk", "key", "name", "lifecycle_stage__key", "lifecycle_stage__label", "entered_at")
    )
    for row in rows:
        stage, entered_at = row["lifecycle_stage__label"], row["entered_at"]
        yield Observation(
            # The stage is part of the subject: moving on (and back) is a new stall, not the old one.
            subject_key=f"{row['key']}:{row['lifecycle_stage__key']}",
            title=f"{row['key']} {row['name']} has been in {stage} since {entered_at:%Y-%m-%d}",
            detail=(
                f"More than {days} days in {stage}. Decide its future: ask for the next gate, put it on "
                "hold or retire it (Approvals tab)."
            ),
            use_case_id=row["pk"],
            link=use_case_link(row["key"], "approvals"),
            data={
                "stage": row["lifecycle_stage__key"],
                "entered_at": entered_at.isoformat(),
                "days": (now - entered_at).days,
            },
        )
