"""budget-overrun: a monthly budget whose spend in the budget month has reached its amount.

The month is the one the budgets page shows (this month if it has billing data, else the latest
that has), and "over" is the page's rule (``BudgetStatus.state``), so the finding and the red
badge always agree. The subject is the budget's target and currency, not the month: an overrun
that goes on into the next month stays one finding.
"""

from collections.abc import Iterator

from django.urls import reverse

from costs.models import Budget
from costs.selectors.budgets import budget_statuses
from costs.selectors.reports import budget_period
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


@register_check(
    id="budget-overrun",
    title="Budget overrun",
    severity=SeverityChoices.HIGH,
    controls=("cost_visibility.budget_set", "cost_visibility.cost_reviewed"),
    description="A use case's or team's spend in the budget month has reached its monthly budget: cut "
    "the cost or raise the budget, with the owner and the sponsor.",
)
def budget_overrun(scope: AuditScope) -> Iterator[Observation]:
    budgets = Budget.objects.select_related("use_case", "team").order_by("pk")
    if not scope.is_portfolio:
        budgets = budgets.filter(use_case_id=scope.use_case_id)
    period = budget_period()
    for status in budget_statuses(budgets, period=period):
        if status.state != "over":
            continue
        budget = status.budget
        amount = f"{status.actual} {budget.currency} of {budget.amount} {budget.currency}"
        detail = (
            f"Spent {amount} in {period:%B %Y} ({status.percent} %). Cut the cost or raise the budget "
            "after talking with the sponsor."
        )
        data = {
            "budget": budget.pk,
            "period": f"{period:%Y-%m}",
            "spent": str(status.actual),
            "amount": str(budget.amount),
            "currency": budget.currency,
        }
        if budget.use_case_id:
            use_case = budget.use_case
            yield Observation(
                subject_key=f"{use_case.key}:{budget.currency}",
                title=f"{use_case.key} {use_case.name} is over its {budget.currency} budget",
                detail=detail,
                use_case_id=use_case.pk,
                link=reverse("inventory:usecase-detail", args=[use_case.key]) + "?tab=costs",
                data=data,
            )
        else:
            team = budget.team
            # A team's budget is its lead's to answer for; a team without a lead falls to the CoE.
            yield Observation(
                subject_key=f"team:{team.slug}:{budget.currency}",
                title=f"Team {team.name} is over its {budget.currency} budget",
                detail=detail,
                owner_id=team.lead_id,
                owned_by_coe=team.lead_id is None,
                link=reverse("costs:budget-edit", args=[budget.pk]),
                data=data,
            )
