"""Value and ROI: what KPI readings were worth against what the use case cost.

A reading's value is its explicit ``monetized_value`` when given, else ``value`` * the KPI's
``value_per_unit``; readings with neither count for unit economics but not for value. Value is
in the reporting currency (``PROPYLON_REPORTING_CURRENCY``, default USD) and is compared only
with cost billed in that currency — currencies are never converted.

    ROI = (value - cost) ÷ cost

for a use case over the months chosen, and for the portfolio over every visible use case that
has value recorded. A use case with no KPI reading worth money in those months has "no value
recorded" (``None`` with the reason), not an ROI of -100 %; a cost of zero makes ROI "not
defined" (``None``), never a division error. Cost and value are exact sums, rounded once when
shown (costs.money).
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField, ExpressionWrapper, F, QuerySet, Sum
from django.db.models.functions import Coalesce

from costs.models import KpiReading
from costs.money import cents, exact

ZERO = Decimal(0)


def reporting_currency() -> str:
    return getattr(settings, "PROPYLON_REPORTING_CURRENCY", "USD")


def reading_money():
    """SQL for a reading's money: explicit amount, else value * value per unit (NULL if neither)."""
    product = ExpressionWrapper(
        F("value") * F("kpi__value_per_unit"), output_field=DecimalField(max_digits=36, decimal_places=8)
    )
    return Coalesce(F("monetized_value"), product, output_field=DecimalField(max_digits=36, decimal_places=8))


@dataclass
class Roi:
    """Cost and value of a use case (or the portfolio) over some months, exact: rounded once,
    when shown. ``has_value``: some KPI reading of the months has a money value; without one,
    ROI is not -100 % but "no value recorded" (``ratio`` None, ``reason`` "no_value")."""

    cost: Decimal
    value: Decimal
    currency: str
    has_value: bool = True
    # Portfolio only: cost of the use cases with no value recorded, left out of its ROI.
    unvalued_cost: Decimal = ZERO
    unvalued_count: int = 0

    @property
    def net(self) -> Decimal:
        return self.value - self.cost

    @property
    def reason(self) -> str | None:
        """Why ROI is not defined: "no_value" or "zero_cost"; None when it is."""
        if not self.has_value:
            return "no_value"
        if not self.cost:
            return "zero_cost"
        return None

    @property
    def ratio(self) -> Decimal | None:
        if self.reason:
            return None
        return (self.net / self.cost).quantize(Decimal("0.0001"))

    @property
    def percent(self) -> Decimal | None:
        return None if self.ratio is None else (self.ratio * 100).quantize(Decimal("0.1"))

    @property
    def total_cost(self) -> Decimal:
        return self.cost + self.unvalued_cost

    @property
    def formula(self) -> str:
        if not self.has_value:
            return "no value recorded (no KPI reading worth money)"
        cost, value, net = cents(self.cost), cents(self.value), cents(self.net)
        if not self.cost:
            return f"cost is 0 {self.currency}: ROI is not defined"
        return f"({value} - {cost}) ÷ {cost} = {net} ÷ {cost} = {self.ratio} ({self.percent} %)"

    def as_dict(self) -> dict:
        return {
            "currency": self.currency,
            "cost": str(cents(self.cost)),
            "value": str(cents(self.value)) if self.has_value else None,
            "net": str(cents(self.net)) if self.has_value else None,
            "roi": None if self.ratio is None else str(self.ratio),
            "roi_percent": None if self.percent is None else str(self.percent),
            "roi_reason": self.reason,
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
    # NULL when none of the use case's readings has a money value.
    values = dict(
        readings.filter(period__gte=start, period__lt=end)
        .values("kpi__use_case_id")
        .annotate(total=Sum(reading_money()))
        .values_list("kpi__use_case_id", "total")
    )
    return {
        use_case_id: Roi(
            cost=exact(costs.get(use_case_id)),
            value=exact(values.get(use_case_id)),
            currency=currency,
            has_value=values.get(use_case_id) is not None,
        )
        for use_case_id in set(costs) | set(values)
    }


def portfolio_roi(per_use_case: dict[int, Roi]) -> Roi:
    """The portfolio's ROI over the use cases with value recorded; the cost of the others is
    kept apart (``unvalued_cost``) rather than counted as money that earned nothing."""
    valued = [roi for roi in per_use_case.values() if roi.has_value]
    unvalued = [roi for roi in per_use_case.values() if not roi.has_value]
    return Roi(
        cost=sum((roi.cost for roi in valued), ZERO),
        value=sum((roi.value for roi in valued), ZERO),
        currency=reporting_currency(),
        has_value=bool(valued),
        unvalued_cost=sum((roi.cost for roi in unvalued), ZERO),
        unvalued_count=len(unvalued),
    )


def unit_costs(*, use_case, allocations: QuerySet, start: date, end: date) -> list[dict]:
    """Cost per KPI unit for each reading of the use case's KPIs in [start, end): the month's
    allocated cost (reporting currency) ÷ the reading's value; undefined for a zero reading."""
    currency = reporting_currency()
    # The month's exact cost, as the "Costs" tab sums it: the cost divided here is the one on
    # the page (both rounded once, when shown).
    monthly: dict = {}
    parts = (
        allocations.filter(use_case=use_case, currency=currency, period__gte=start, period__lt=end)
        .values("period", "cost_kind", "pool_id")
        .annotate(total=Sum("effective_cost"))
        .order_by()
    )
    for part in parts:
        monthly[part["period"]] = monthly.get(part["period"], ZERO) + exact(part["total"])
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
