"""Reconciliation (DESIGN.md §4.4): for every source, billing period and currency,

    direct + shared + unallocated = the import's billed total, to the cent

and the same for effective cost. Direct is what rules sent to use cases and teams, shared is
what pools split among them, unallocated is what no rule matched (or a pool with nobody to
split among). Totals come from the current import (summed in Decimal while its rows were
written); the allocation side from the CostAllocation rows. Two aggregate queries in all.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet, Sum

from costs.choices import AllocationBucketChoices, CostKindChoices
from costs.models import CostAllocation, CostImport

ZERO = Decimal(0)
CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


@dataclass
class ReconciliationLine:
    source_id: int
    source_name: str
    period: date
    currency: str
    import_id: int | None
    billed_total: Decimal = ZERO
    effective_total: Decimal = ZERO
    direct: Decimal = ZERO
    shared: Decimal = ZERO
    unallocated: Decimal = ZERO
    effective_allocated: Decimal = ZERO
    allocated_import_ids: set = field(default_factory=set)

    @property
    def allocated(self) -> Decimal:
        return self.direct + self.shared + self.unallocated

    @property
    def difference(self) -> Decimal:
        return _cents(self.allocated - self.billed_total)

    @property
    def effective_difference(self) -> Decimal:
        return _cents(self.effective_allocated - self.effective_total)

    @property
    def is_stale(self) -> bool:
        """Allocation rows from another import than the current one (recomputation pending)."""
        return bool(self.allocated_import_ids - {self.import_id})

    @property
    def ok(self) -> bool:
        # Compared as a difference rounded to the cent, not as two rounded totals, so that sums
        # a hair either side of a half cent do not flip a cent.
        return not self.difference and not self.effective_difference and not self.is_stale

    @property
    def unallocated_share(self) -> Decimal | None:
        if not self.billed_total:
            return None
        return (self.unallocated * 100 / self.billed_total).quantize(Decimal("0.1"))

    def as_dict(self) -> dict:
        return {
            "source": self.source_id,
            "source_name": self.source_name,
            "period": f"{self.period:%Y-%m}",
            "currency": self.currency,
            "import": self.import_id,
            "billed_total": str(_cents(self.billed_total)),
            "effective_total": str(_cents(self.effective_total)),
            "direct": str(_cents(self.direct)),
            "shared": str(_cents(self.shared)),
            "unallocated": str(_cents(self.unallocated)),
            "allocated": str(_cents(self.allocated)),
            "difference": str(self.difference),
            "effective_difference": str(self.effective_difference),
            "stale": self.is_stale,
            "ok": self.ok,
        }


def reconcile(*, sources: QuerySet, period_start: date | None = None, period_end: date | None = None,
              ) -> list[ReconciliationLine]:  # fmt: skip
    """One line per (source, period, currency) of the current imports of ``sources`` (and any
    allocation rows left without a current import), newest period first."""
    imports = CostImport.objects.filter(
        is_current=True, source__in=sources, billing_period_start__isnull=False
    )
    allocations = CostAllocation.objects.filter(source__in=sources)
    if period_start:
        imports = imports.filter(billing_period_start__gte=period_start)
        allocations = allocations.filter(period__gte=period_start)
    if period_end:
        imports = imports.filter(billing_period_start__lt=period_end)
        allocations = allocations.filter(period__lt=period_end)
    lines: dict[tuple, ReconciliationLine] = {}
    names: dict[int, str] = {}
    for item in imports.values("pk", "source_id", "source__name", "billing_period_start", "totals"):
        names[item["source_id"]] = item["source__name"]
        for currency, totals in (item["totals"] or {}).items():
            lines[(item["source_id"], item["billing_period_start"], currency)] = ReconciliationLine(
                source_id=item["source_id"],
                source_name=item["source__name"],
                period=item["billing_period_start"],
                currency=currency,
                import_id=item["pk"],
                billed_total=Decimal(totals["billed"]),
                effective_total=Decimal(totals["effective"]),
            )
    grouped = (
        allocations.values(
            "source_id", "source__name", "period", "currency", "bucket", "cost_kind", "cost_import_id"
        )
        .annotate(billed=Sum("billed_cost"), effective=Sum("effective_cost"))
        .order_by()
    )
    for group in grouped:
        key = (group["source_id"], group["period"], group["currency"])
        line = lines.get(key)
        if line is None:
            line = lines[key] = ReconciliationLine(
                source_id=group["source_id"],
                source_name=group["source__name"],
                period=group["period"],
                currency=group["currency"],
                import_id=None,
            )
        billed = Decimal(str(group["billed"] or 0))
        if group["bucket"] == AllocationBucketChoices.UNALLOCATED:
            line.unallocated += billed
        elif group["cost_kind"] == CostKindChoices.SHARED:
            line.shared += billed
        else:
            line.direct += billed
        line.effective_allocated += Decimal(str(group["effective"] or 0))
        line.allocated_import_ids.add(group["cost_import_id"])
    return sorted(
        lines.values(), key=lambda line: (-line.period.toordinal(), line.source_name, line.currency)
    )
