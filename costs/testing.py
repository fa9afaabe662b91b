"""Test helpers for the cost side, importable by any test (DESIGN.md §4.4).

    from costs.testing import assert_reconciles

    services.cost_import_run(source=source, location=path)
    assert_reconciles(source, date(2026, 11, 1))

``assert_reconciles`` recomputes the allocation of the period first (it is pure and idempotent,
and in tests the job queued after the import's commit does not run unless captured), then
checks, per currency and to the cent, that the current import's stored totals equal its line
items and that direct + shared + unallocated allocation equals the billed and effective totals.
Pass ``allocate=False`` to check the rows as they are.
"""

from datetime import date
from decimal import Decimal

from costs.models import CostImport, CostSource
from costs.selectors.imports import line_item_totals
from costs.selectors.reconciliation import reconcile
from costs.services.allocation_engine import allocate_period
from portal.dates import month_start, next_month

CENT = Decimal("0.01")


def assert_reconciles(source: CostSource, period: date, *, allocate: bool = True) -> None:
    period = month_start(period)
    if allocate:
        allocate_period(source=source, period=period)
    current = CostImport.objects.filter(source=source, billing_period_start=period, is_current=True).first()
    assert current is not None, f"{source} has no current import for {period:%Y-%m}"
    problems = []
    in_database = line_item_totals(current)
    for currency, totals in current.totals.items():
        counted = in_database.get(currency)
        if counted is None:
            problems.append(f"{currency}: the import's totals name it but no line item has it")
            continue
        for measure in ("billed", "effective"):
            stored = Decimal(totals[measure])
            if (counted[measure] - stored).quantize(CENT):
                problems.append(
                    f"{currency} {measure}: import total {stored} ≠ line items {counted[measure]}"
                )
        if counted["rows"] != totals["rows"]:
            problems.append(
                f"{currency}: import says {totals['rows']} rows, {counted['rows']} in the database"
            )
    extra = set(in_database) - set(current.totals)
    if extra:
        problems.append(f"line items in {sorted(extra)} missing from the import's totals")
    lines = reconcile(
        sources=CostSource.objects.filter(pk=source.pk), period_start=period, period_end=next_month(period)
    )
    seen = set()
    for line in lines:
        seen.add(line.currency)
        if not line.ok:
            problems.append(
                f"{line.currency}: billed {line.billed_total} vs allocated {line.allocated} "
                f"(direct {line.direct} + shared {line.shared} + unallocated {line.unallocated}), "
                f"difference {line.difference}; effective difference {line.effective_difference}"
                + "".join(f"; stale: {reason}" for reason in line.stale_reasons)
                + (f"; {line.failure}" if line.failure else "")
            )
    missing = set(current.totals) - seen
    if missing:
        problems.append(f"no allocation for {sorted(missing)}")
    assert not problems, f"{source} {period:%Y-%m} does not reconcile:\n" + "\n".join(problems)
