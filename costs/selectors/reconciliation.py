"""Reconciliation (DESIGN.md §4.4): for every source, billing period and currency,

    direct + shared + unallocated = the import's billed total, to the cent

and the same for effective cost; and below that, the allocation's own inputs agree: the daily
rollups (CostRollup) and the line items as the allocation summed them (one pass over the
period's partition), both kept on the AllocationState by the run, equal the import's totals. Direct is what rules sent to use cases and teams, shared is
what pools split among them, unallocated is what no rule matched (or a pool with nobody to
split among). Totals come from the current import (summed in Decimal while its rows were
written); the allocation side from the CostAllocation rows.

A line is also not OK when its allocation cannot be trusted even if the sums agree: the last
allocation run of the (source, period) failed (its error is shown), or the allocation is stale
— computed from another import than the current one, or under allocation rules and shared
pools that have changed since (costs.models.AllocationState). A handful of queries in all,
whatever the number of sources, periods or line items.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet, Sum

from costs.choices import AllocationBucketChoices, CostKindChoices
from costs.models import AllocationState, CostAllocation, CostImport
from costs.money import cents
from costs.services.allocation_engine import current_fingerprints

ZERO = Decimal(0)


def _cents(value: Decimal) -> Decimal:
    return cents(value)


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
    # What allocation read (the partition's sums) and wrote per day (the rollups), billed cost;
    # None before the period was allocated.
    line_items: Decimal | None = None
    rollups: Decimal | None = None
    allocated_import_ids: set = field(default_factory=set)
    failure: str = ""  # the error of the (source, period)'s last allocation run
    stale_reasons: list = field(default_factory=list)

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
    def rollup_difference(self) -> Decimal:
        """Rollups and line items against the import's total (zero before allocation)."""
        differences = [_cents(value - self.billed_total) for value in (self.line_items, self.rollups)
                       if value is not None]  # fmt: skip
        return max(differences, key=abs, default=ZERO)

    @property
    def is_stale(self) -> bool:
        """The allocation does not follow the current import, rules and pools (a recomputation
        is pending, or failed)."""
        return bool(self.stale_reasons)

    @property
    def ok(self) -> bool:
        # Compared as a difference rounded to the cent, not as two rounded totals, so that sums
        # a hair either side of a half cent do not flip a cent.
        return (
            not self.difference
            and not self.effective_difference
            and not self.rollup_difference
            and not self.is_stale
            and not self.failure
        )

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        if self.failure:
            return "failed"
        if self.is_stale:
            return "stale"
        if self.import_id is None:
            return "no_import"
        return "mismatch"

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
            "line_items": None if self.line_items is None else str(_cents(self.line_items)),
            "rollups": None if self.rollups is None else str(_cents(self.rollups)),
            "rollup_difference": str(self.rollup_difference),
            "stale": self.is_stale,
            "stale_reasons": list(self.stale_reasons),
            "failure": self.failure or None,
            "status": self.status,
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
    _judge(lines.values(), sources=sources, period_start=period_start, period_end=period_end)
    return sorted(
        lines.values(), key=lambda line: (-line.period.toordinal(), line.source_name, line.currency)
    )


def _judge(lines, *, sources: QuerySet, period_start: date | None, period_end: date | None) -> None:
    """Fill in each line's failure and the reasons its allocation is stale."""

    lines = list(lines)
    if not lines:
        return
    states_query = AllocationState.objects.filter(source__in=sources)
    if period_start:
        states_query = states_query.filter(period__gte=period_start)
    if period_end:
        states_query = states_query.filter(period__lt=period_end)
    states = {(state.source_id, state.period): state for state in states_query}
    fingerprints = current_fingerprints({line.source_id for line in lines})
    for line in lines:
        state = states.get((line.source_id, line.period))
        if state is not None and state.failed:
            line.failure = state.error
        if state is not None and state.cost_import_id == line.import_id:
            checked = state.checked_totals.get(line.currency, {})
            if "line_items" in checked:
                line.line_items = Decimal(checked["line_items"]["billed"])
            if "rollups" in checked:
                line.rollups = Decimal(checked["rollups"]["billed"])
        reasons = line.stale_reasons
        other_imports = line.allocated_import_ids - {line.import_id}
        if line.import_id is None:
            continue  # rows left without a current import: the mismatch says it
        if other_imports - {None}:
            reasons.append(
                f"Rows from import #{', #'.join(str(i) for i in sorted(other_imports - {None}))}, "
                f"not the current #{line.import_id}."
            )
        if state is None or state.computed_at is None:
            if line.allocated_import_ids:
                reasons.append("Computed before Propylon recorded the rules it used.")
            else:
                reasons.append("Not allocated yet.")
            continue
        if state.cost_import_id != line.import_id and not other_imports:
            reasons.append(f"Import #{line.import_id} became current after it was computed.")
        if state.rules_fingerprint != fingerprints.get(line.source_id):
            reasons.append(
                f"Rules or pools changed since it was computed ({state.computed_at:%Y-%m-%d %H:%M} UTC)."
            )
