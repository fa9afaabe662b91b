"""What the approvals audit checks share: the scope filter, the stages that count, the links.

Also read by the operations checks (the layer above): the production approval rule lives here
once, so "in production without approval" and "approval expired" never both report one use case.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from approvals.choices import ApprovalStatusChoices, StageKindChoices
from approvals.models import ApprovalRequest
from inventory.models import UseCase
from portal.auditing import AuditScope

# Stages where a use case is being built or runs: past intake, not paused or closed.
LIVE_STAGE_KINDS = (StageKindChoices.ACTIVE, StageKindChoices.PRODUCTION)


def now_of(scope: AuditScope) -> datetime:
    return scope.now or timezone.now()


def scoped(queryset: QuerySet, scope: AuditScope, field: str = "pk") -> QuerySet:
    """``queryset`` limited to the scope's use case (``field`` names its id on the rows)."""
    return queryset if scope.is_portfolio else queryset.filter(**{field: scope.use_case_id})


def governed_use_cases(scope: AuditScope) -> QuerySet:
    """Use cases a finding can still matter for: drafts and live ones, not retired or rejected."""
    return scoped(UseCase.objects.exclude(lifecycle_stage__kind=StageKindChoices.CLOSED), scope)


def use_case_link(key: str, tab: str = "") -> str:
    """The use case page, opened on the tab where its owner fixes what a check reports."""
    url = reverse("inventory:usecase-detail", args=[key])
    return f"{url}?tab={tab}" if tab else url


#
# Production approvals: one rule for "approval expired" and "in production without approval"
#


@dataclass(frozen=True)
class ProductionApprovalState:
    """What a use case's approvals to production say at ``now``."""

    valid: list[dict]  # approved, unexpired approvals to a production stage, latest expiry last
    latest: dict | None  # the latest decided approval to production, whatever its status now

    @property
    def is_covered(self) -> bool:
        return bool(self.valid)

    @property
    def latest_expired(self) -> bool:
        """The latest approval to production lapsed (rather than being revoked or never given)."""
        return self.latest is not None and self.latest["lapsed"]


def production_approval_states(
    use_case_ids: Iterable[int] | QuerySet, *, now: datetime
) -> dict[int, ProductionApprovalState]:
    """Use case id → its :class:`ProductionApprovalState`, in one query whatever the number of
    use cases (``use_case_ids`` may be a queryset of ids: it stays a subquery)."""
    rows = (
        ApprovalRequest.objects.filter(
            use_case_id__in=use_case_ids,
            to_stage__kind=StageKindChoices.PRODUCTION,
            status__in=(
                ApprovalStatusChoices.APPROVED,
                ApprovalStatusChoices.EXPIRED,
                ApprovalStatusChoices.REVOKED,
            ),
            decided_at__isnull=False,
        )
        .order_by("use_case_id", "decided_at", "pk")
        .values("pk", "use_case_id", "status", "decided_at", "expires_at", "release_id", "release__version")
    )
    grouped: dict[int, list[dict]] = {}
    for row in rows:
        row["reference"] = f"GR-{row['pk']}"
        approved = row["status"] == ApprovalStatusChoices.APPROVED
        row["is_valid"] = approved and (row["expires_at"] is None or row["expires_at"] > now)
        row["lapsed"] = row["status"] == ApprovalStatusChoices.EXPIRED or (approved and not row["is_valid"])
        grouped.setdefault(row["use_case_id"], []).append(row)
    states = {}
    for use_case_id, approvals in grouped.items():
        valid = sorted(
            (row for row in approvals if row["is_valid"]),
            key=lambda row: (row["expires_at"] is None, row["expires_at"] or now, row["pk"]),
        )
        states[use_case_id] = ProductionApprovalState(valid=valid, latest=approvals[-1])
    return states


EMPTY_STATE = ProductionApprovalState(valid=[], latest=None)
