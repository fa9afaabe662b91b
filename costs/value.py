"""Value and ROI: what KPI readings were worth against what the use case cost.

A reading's value is its explicit ``monetized_value`` when given, else ``value`` * the KPI's
``value_per_unit``; readings with neither count for unit economics but not for value. Value is
in the reporting currency (``PROPYLON_REPORTING_CURRENCY``, default USD) and is compared only
with cost billed in that currency — currencies are never converted.

    ROI = (value - cost) ÷ cost

for a use case over the months chosen, and for the portfolio over every visible use case. A cost
of zero makes ROI "not defined" (``None``), never a division error.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField, ExpressionWrapper, F, QuerySet, Sum
from django.db.models.functions import Coalesce

from costs.models import KpiReading

ZERO = Decimal(0)
CENT = Decimal("0.01")


def reporting_currency() -> str:
    return getattr(settings, "PROPYLON_REPORTING_CURRENCY", "USD")


def reading_money():
    """SQL for a reading's money: explicit amount, else value * value per unit (NULL if neither)."""
    product = ExpressionWrapper(
        F("value") * F("kpi__value_per_unit"), output_field=DecimalField(max_digits=36, decimal_places=8)
    )
    return Coalesce(F("monetized_value"), product, output_field=DecimalField(max_digits=36, decimal_places=8))


def _money(value) -> Decimal:
    return ZERO if value is None else Decimal(str(value)).quantize(CENT)


@dataclass
class Roi:
    cost: Decimal
    value: Decimal
    currency: str

    @property
    def net(self) -> Decimal:
        return self.value - self.cost

    @property
    def ratio(self) -> Decimal | None:
        if not self.cost:
            return None
        return (self.net / self.cost).quantize(Decimal("0.0001"))

    @property
    def percent(self) -> Decimal | None:
        return None if self.ratio is None else (self.ratio * 100).quantize(Decimal("0.1"))

    @property
    def formula(self) -> str:
        if not self.cost:
            return f"cost is 0 {self.currency}: ROI is not defined"
        return (
            f"({self.value} - {self.cost}) ÷ {self.cost} = {self.net} ÷ {self.cost} = {self.ratio} "
            f"({self.percent} %)"
        )

    def as_dict(self) -> dict:
        return {
            "currency": self.currency,
            "cost": str(self.cost),
            "value": str(self.value),
            "net": str(self.net),
            "roi": None if self.ratio is None else str(self.ratio),
            "roi_percent": None if self.percent is None else str(self.percent),
            "formula": self.formula,
        }


def roi_by_use_case(*, allocations: QuerySet, readings: QuerySet, start: date, end: date) -> dict[int, Roi]:
    """use case id → ROI over months in [start, end), from restricted querysets: two aggregate
    queries whatever the number of use cases, line items or readings."""
    currency = reporting_currency()
    costs = dict(
        allocations.filter(period__gte=start, period__lt=end, currency=currency, use_case__isnull=False)
        .values("use_case_id")
        .annotate(total=Sum("effective_cost"))
        .values_list("use_case_id", "total")
    )
    values = dict(
        readings.filter(period__gte=start, period__lt=end)
        .values("kpi__use_case_id")
        .annotate(total=Sum(reading_money()))
        .values_list("kpi__use_case_id", "total")
    )
    return {
        use_case_id: Roi(
            cost=_money(costs.get(use_case_id)), value=_money(values.get(use_case_id)), currency=currency
        )
        for use_case_id in set(costs) | set(values)
    }


def portfolio_roi(per_use_case: dict[int, Roi]) -> Roi:
    return Roi(
        cost=sum((roi.cost for roi in per_use_case.values()), ZERO),
        value=sum((roi.value for roi in per_use_case.values()), ZERO),
        currency=reporting_currency(),
    )


def unit_costs(*, use_case, allocations: QuerySet, start: date, end: date) -> list[dict]:
    """Cost per KPI unit for each reading of the use case's KPIs in [start, end): the month's
    allocated cost (reporting currency) ÷ the reading's value; undefined for a zero reading."""
    currency = reporting_currency()
    # Summed per month and kind of cost at cents, as the "Costs" tab shows them, so that the
    # cost divided here is the one on the page.
    monthly: dict = {}
    parts = (
        allocations.filter(use_case=use_case, currency=currency, period__gte=start, period__lt=end)
        .values("period", "cost_kind", "pool_id")
        .annotate(total=Sum("effective_cost"))
        .order_by()
    )
    for part in parts:
        monthly[part["period"]] = monthly.get(part["period"], ZERO) + _money(part["total"])
    rows = []
    readings = KpiReading.objects.filter(kpi__use_case=use_case, period__gte=start, period__lt=end)
    for reading in readings.select_related("kpi").order_by("-period", "kpi__name"):
        cost = monthly.get(reading.period, ZERO)
        rows.append(
            {
                "reading": reading,
                "cost": cost,
                "currency": currency,
                "money": reading.money,
                "unit_cost": (cost / reading.value).quantize(Decimal("0.0001")) if reading.value else None,
            }
        )
    return rows
