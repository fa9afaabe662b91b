"""Reads of cost data.

For people, every queryset starts from :func:`portal.permissions.restrict`. For the engines built
on the imports (allocation, reconciliation, budgets), :func:`billing_totals` and
:func:`current_line_items` read only *current* imports: one per source and billing period.
"""

from datetime import date
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from costs.choices import AllocationStateChoices
from costs.models import AllocationState, CostImport, CostLineItem, CostSource
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


# A line item's FOCUS fields, reached through its dimensions (costs.models: narrow rows).
LINE_ITEM_DETAILS = {
    "provider": "profile__service__provider",
    "billing_account_id": "profile__account__billing_account_id",
    "sub_account_id": "profile__account__sub_account_id",
    "service_name": "profile__service__service_name",
    "service_category": "profile__service__service_category",
    "resource_id": "profile__resource__resource_id",
    "tags": "profile__tag_set__tags",
    "tags_normalized": "profile__tag_set__tags_normalized",
    "region": "region__region",
    "sku_id": "sku__sku_id",
    "charge_category": "charge__charge_category",
    "charge_class": "charge__charge_class",
    "provider_charge_type": "charge__provider_charge_type",
    "usage_unit": "charge__usage_unit",
}


LINE_ITEM_OWN_FIELDS = (
    "id", "cost_import_id", "source_id", "billing_period_start", "charge_period_start", "charge_period_end",
    "charge_date", "usage_quantity", "billed_cost", "effective_cost", "list_cost", "billing_currency",
)  # fmt: skip


def _detail_lookup(name: str) -> str:
    """A filter on a FOCUS field name (``tags_normalized__use_case``) as a lookup through the
    dimensions (``profile__tag_set__tags_normalized__use_case``)."""
    field, separator, rest = name.partition("__")
    return LINE_ITEM_DETAILS.get(field, field) + separator + rest


def line_item_details(items: QuerySet | None = None, **filters) -> list[dict]:
    """Line items as dicts with every FOCUS field, dimensions joined, in order: for a person or
    a test looking at a few rows (never for totals; those come from rollups). Filters use the
    same names, e.g. ``line_item_details(service_name="Amazon EC2")``."""
    items = CostLineItem.objects.all() if items is None else items
    items = items.filter(**{_detail_lookup(name): value for name, value in filters.items()})
    paths = {**{name: name for name in LINE_ITEM_OWN_FIELDS}, **LINE_ITEM_DETAILS}
    return [
        {name: row[path] for name, path in paths.items()}
        for row in items.order_by("charge_period_start", "id").values(*paths.values())
    ]


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


def summed_line_item_totals(cost_import: CostImport) -> dict[str, dict[str, Decimal | int]]:
    """The import's line items as its last allocation summed them, per currency (kept on the
    AllocationState: no line item is read): empty until an allocation of this very import has
    run. The import's page checks its stored totals against these."""
    state = AllocationState.objects.filter(
        source_id=cost_import.source_id,
        period=cost_import.billing_period_start,
        cost_import=cost_import,
        status=AllocationStateChoices.OK,
    ).first()
    if state is None:
        return {}
    return {
        currency: {
            "billed": Decimal(checked["line_items"]["billed"]),
            "effective": Decimal(checked["line_items"]["effective"]),
            "rows": checked["line_items"]["rows"],
        }
        for currency, checked in state.checked_totals.items()
        if "line_items" in checked
    }


def line_item_totals(cost_import: CostImport) -> dict[str, dict[str, Decimal | int]]:
    """The same figures summed from the line items in the database: a check of the stored totals
    for tests and the reconciliation fixture (a scan of the partition; pages use
    :func:`summed_line_item_totals`). Sums are rounded to 10 places, the column's."""
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
