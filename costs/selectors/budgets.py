"""Budgets: spend against a monthly budget, the month-end forecast, and alerts.

Spend is the effective cost allocated to the budget's use case (direct and shared), or to the
team (allocated to the team itself plus to its use cases), in the budget's currency.

Forecast to month end (docs/costs.md, "Forecast"): per source, the allocation engine records
the day up to which the month's charges are complete (``data_through``), the effective cost of
the last complete days before it (at most seven: a whole week, so every weekday counts once and
no day-of-week model is needed) and the cost already billed for the partial day after it. Then

    forecast = (month to date - partial day) + (last days' cost ÷ days) * days left in the month

a straight-line run-rate. A month whose data is complete is its actual cost; a month with no
complete day yet has no forecast.

Alerts: when spend reaches a threshold (default 50, 80 and 100 %) a notification goes to the use
case's accountable and technical owners and the team lead; a ``BudgetAlert`` row per budget,
month and threshold makes it happen once however often allocation runs.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import F, QuerySet, Sum
from django.db.models.functions import Coalesce

from costs.models import Budget, CostAllocation
from costs.money import cents
from portal.dates import month_start, next_month

ZERO = Decimal(0)


@dataclass
class Spend:
    actual: Decimal = ZERO
    forecast: Decimal | None = ZERO
    complete: bool = True  # every source's data covers the whole month

    def add_group(self, *, period: date, effective, recent, partial, recent_days, data_through) -> None:
        effective, recent, partial = Decimal(effective or 0), Decimal(recent or 0), Decimal(partial or 0)
        self.actual += effective
        month_end = next_month(period)
        if data_through is not None and data_through >= month_end:
            if self.forecast is not None:
                self.forecast += effective
            return
        self.complete = False
        if data_through is None or not recent_days or self.forecast is None:
            self.forecast = None
            return
        remaining = (month_end - data_through).days
        self.forecast += effective - partial + recent / recent_days * remaining


def _spend_groups(rows: QuerySet, target: str):
    return (
        rows.values(target, "currency", "period", "source_id", "recent_days", "data_through")
        .annotate(
            effective=Sum("effective_cost"),
            recent=Sum("recent_effective_cost"),
            partial=Sum("partial_effective_cost"),
        )
        .order_by()
    )


def spend_by(rows: QuerySet, *, target: str, period: date) -> dict[tuple, Spend]:
    """(target id, currency) → Spend for one month; ``target`` is a value expression name
    already annotated on ``rows`` or a field (``use_case_id``)."""
    result: dict[tuple, Spend] = defaultdict(Spend)
    for group in _spend_groups(rows.filter(period=period), target):
        result[(group[target], group["currency"])].add_group(
            period=period,
            effective=group["effective"],
            recent=group["recent"],
            partial=group["partial"],
            recent_days=group["recent_days"],
            data_through=group["data_through"],
        )
    return result


def team_rows(rows: QuerySet) -> QuerySet:
    """Allocation rows with ``team_key``: the team itself, or the team owning the use case."""
    return rows.annotate(team_key=Coalesce(F("team_id"), F("use_case__owning_team_id")))


@dataclass
class BudgetStatus:
    budget: Budget
    period: date
    spend: Spend = field(default_factory=Spend)

    @property
    def actual(self) -> Decimal:
        return cents(self.spend.actual)

    @property
    def forecast(self) -> Decimal | None:
        return None if self.spend.forecast is None else cents(self.spend.forecast)

    @property
    def percent(self) -> Decimal:
        return (self.spend.actual * 100 / self.budget.amount).quantize(Decimal("0.1"))

    @property
    def forecast_percent(self) -> Decimal | None:
        if self.spend.forecast is None:
            return None
        return (self.spend.forecast * 100 / self.budget.amount).quantize(Decimal("0.1"))

    @property
    def reached(self) -> list[int]:
        return [t for t in self.budget.thresholds if self.spend.actual * 100 >= self.budget.amount * t]

    @property
    def state(self) -> str:
        if self.spend.actual >= self.budget.amount:
            return "over"
        if self.reached:
            return "warning"
        if self.spend.forecast is not None and self.spend.forecast > self.budget.amount:
            return "forecast-over"
        return "ok"

    @property
    def state_colour(self) -> str:
        return {"over": "red", "warning": "amber", "forecast-over": "amber"}.get(self.state, "green")

    @property
    def state_label(self) -> str:
        return {
            "over": "over budget",
            "warning": f"{max(self.reached)} % reached" if self.reached else "",
            "forecast-over": "forecast over budget",
        }.get(self.state, "within budget")


def budget_statuses(budgets, *, period: date) -> list[BudgetStatus]:
    """Status of each budget in one month: two aggregate queries whatever the number of
    budgets or allocation rows."""
    budgets = list(budgets)
    period = month_start(period)
    statuses = [BudgetStatus(budget=budget, period=period) for budget in budgets]
    use_case_ids = {b.use_case_id for b in budgets if b.use_case_id}
    team_ids = {b.team_id for b in budgets if b.team_id}
    by_use_case = (
        spend_by(
            CostAllocation.objects.filter(use_case_id__in=use_case_ids), target="use_case_id", period=period
        )
        if use_case_ids
        else {}
    )
    by_team = (
        spend_by(team_rows(CostAllocation.objects.all()).filter(team_key__in=team_ids), target="team_key",
                 period=period)
        if team_ids
        else {}
    )  # fmt: skip
    for status in statuses:
        budget = status.budget
        found = (
            by_use_case.get((budget.use_case_id, budget.currency))
            if budget.use_case_id
            else by_team.get((budget.team_id, budget.currency))
        )
        if found is not None:
            status.spend = found
    return statuses
