"""Reads of cost data.

For people, every queryset starts from :func:`portal.permissions.restrict`. For the engines built
on the imports (allocation, reconciliation, budgets), :func:`billing_totals` and
:func:`current_line_items` read only *current* imports: one per source and billing period.
"""

from datetime import date
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from costs.models import CostImport, CostLineItem, CostSource
from portal.permissions import Action, restrict


def sources_visible_to(user) -> QuerySet:
    return restrict(CostSource.objects.all(), user, Action.VIEW)


def imports_visible_to(user) -> QuerySet:
    return restrict(CostImport.objects.all(), user, Action.VIEW).select_related("source", "job_run")


def current_imports(*, source: CostSource | None = None, period_start: date, period_end: date) -> QuerySet:
    """Current imports whose billing period starts in [period_start, period_end)."""
    imports = CostImport.objects.filter(
        is_current=True, billing_period_start__gte=period_start, billing_period_start__lt=period_end
    )
    return imports.filter(source=source) if source is not None else imports


def current_line_items(*, source: CostSource | None = None, period_start: date, period_end: date) -> QuerySet:
    """The line items allocation works on: those of current imports, periods in [start, end)."""
    return CostLineItem.objects.filter(
        cost_import__in=current_imports(source=source, period_start=period_start, period_end=period_end)
    )


def billing_totals(
    *, source: CostSource | None = None, period_start: date, period_end: date
) -> dict[str, dict[str, Decimal | int]]:
    """Per currency: ``billed`` (sum of BilledCost, the invoice), ``effective`` (sum of
    EffectiveCost, what allocation distributes), ``list`` (sum of ListCost) and ``rows``, over
    the current imports of billing periods starting in [period_start, period_end).

    Read from the totals stored with each import (computed in Decimal while the rows were
    written), so it costs one small query at any data volume. Currencies are never added
    together.
    """
    result: dict[str, dict] = {}
    for totals in current_imports(
        source=source, period_start=period_start, period_end=period_end
    ).values_list("totals", flat=True):
        for currency, values in totals.items():
            entry = result.setdefault(
                currency, {"billed": Decimal(0), "effective": Decimal(0), "list": Decimal(0), "rows": 0}
            )
            entry["billed"] += Decimal(values["billed"])
            entry["effective"] += Decimal(values["effective"])
            entry["list"] += Decimal(values["list"])
            entry["rows"] += int(values["rows"])
    return dict(sorted(result.items()))


def line_item_totals(cost_import: CostImport) -> dict[str, dict[str, Decimal | int]]:
    """The same figures summed from the line items in the database: a check of the stored totals
    (shown on the import's page, used by the tests). Sums are rounded to 10 places, the column's."""
    result = {}
    rows = (
        CostLineItem.objects.filter(cost_import=cost_import)
        .values("billing_currency")
        .annotate(
            billed=Sum("billed_cost"),
            effective=Sum("effective_cost"),
            list=Sum("list_cost"),
            rows=Count("pk"),
        )
        .order_by("billing_currency")
    )
    for row in rows:
        result[row["billing_currency"]] = {
            "billed": Decimal(row["billed"] or 0),
            "effective": Decimal(row["effective"] or 0),
            "list": Decimal(row["list"] or 0),
            "rows": row["rows"],
        }
    return result
