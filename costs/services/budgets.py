"""Budgets: saving and deleting them, and the alerts of thresholds reached."""

from datetime import UTC, date, datetime

from django.db import transaction

from costs.choices import DEFAULT_BUDGET_THRESHOLDS
from costs.models import Budget, BudgetAlert
from costs.selectors.budgets import budget_statuses
from portal.dates import month_start
from portal.notifications import notify

BUDGET_FIELDS = ("use_case", "team", "amount", "currency", "thresholds", "notes")


def budget_save(*, budget=None, **fields):
    """Create or change a budget; then check its alerts for this month (idempotent)."""
    with transaction.atomic():
        if budget is None:
            budget = Budget()
            if "thresholds" not in fields:
                fields["thresholds"] = list(DEFAULT_BUDGET_THRESHOLDS)
        else:
            budget = Budget.objects.select_for_update().get(pk=budget.pk)
        for name, value in fields.items():
            if name in BUDGET_FIELDS:
                setattr(budget, name, value)
        budget.full_clean()
        budget.save()
        check_budget_alerts(periods=[month_start(datetime.now(UTC).date())])
    return budget


def budget_delete(*, budget) -> None:
    budget.delete()


def _recipients(budget: Budget) -> list:
    people = []
    if budget.use_case_id:
        use_case = budget.use_case
        people += [use_case.accountable_owner, use_case.technical_owner, use_case.owning_team.lead]
    else:
        people.append(budget.team.lead)
    return [person for person in people if person is not None]


def check_budget_alerts(*, periods: list[date]) -> list[BudgetAlert]:
    """Send the alerts of thresholds reached in these months that were not sent before."""

    created = []
    budgets = Budget.objects.select_related(
        "use_case__accountable_owner",
        "use_case__technical_owner",
        "use_case__owning_team__lead",
        "team__lead",
    )
    budgets = list(budgets)
    if not budgets:
        return created
    for period in sorted({month_start(p) for p in periods}):
        for status in budget_statuses(budgets, period=period):
            for threshold in status.reached:
                with transaction.atomic():
                    alert, new = BudgetAlert.objects.get_or_create(
                        budget=status.budget,
                        period=period,
                        threshold=threshold,
                        defaults={"spent": status.spend.actual},
                    )
                    if not new:
                        continue
                    budget = status.budget
                    subject = (
                        f"Budget alert: {budget.target} reached {threshold} % of its "
                        f"{budget.amount} {budget.currency} budget for {period:%Y-%m}"
                    )
                    forecast = status.forecast
                    body = (
                        f"Spend in {period:%B %Y}: {status.actual} {budget.currency} "
                        f"({status.percent} % of {budget.amount} {budget.currency}).\n"
                        + (
                            f"Forecast to month end: {forecast} {budget.currency}.\n"
                            if forecast is not None
                            else ""
                        )
                    )
                    notify(
                        key=f"budget:{budget.pk}:{period:%Y-%m}:{threshold}",
                        recipients=_recipients(budget),
                        subject=subject,
                        body=body,
                        link=f"/costs/budgets/?period={period:%Y-%m}",
                    )
                    created.append(alert)
    return created
