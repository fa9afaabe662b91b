"""Budgets: spend against the month, the run-rate forecast, and alerts sent once per budget,
month and threshold."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from costs.models import Budget, BudgetAlert
from costs.selectors.budgets import budget_statuses
from costs.services.allocation import allocation_rule_save
from costs.services.allocation_engine import allocate
from costs.services.budgets import budget_delete, budget_save, check_budget_alerts
from portal.models import Notification
from tests.costs.cost_data import import_lines, line, make_source, make_team, make_use_case

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


@pytest.fixture
def chatbot(tmp_path):
    team = make_team("Support")
    use_case = make_use_case(team, "Support chatbot")
    allocation_rule_save(name="Use-case tag", kind="use_case_key_tag")
    source = make_source()
    # Ten days of $10 (1-10 November): data complete up to 11 November.
    import_lines(
        source,
        tmp_path,
        [line(NOV, "10.00", day=day, tags={"use-case": use_case.key}) for day in range(1, 11)],
    )
    allocate()
    return use_case


def test_spend_and_forecast_by_run_rate(chatbot):
    budget = budget_save(use_case=chatbot, amount=Decimal("250.00"), currency="USD")
    (status,) = budget_statuses([budget], period=NOV)
    assert status.actual == Decimal("100.00") and status.percent == Decimal("40.0")
    # Last 7 complete days: $70, $10/day; 20 days left (11-30 November): 100 + 10 * 20.
    assert status.forecast == Decimal("300.00")
    assert status.state == "forecast-over"


def test_team_budget_counts_its_use_cases(chatbot):
    budget = budget_save(team=chatbot.owning_team, amount=Decimal("1000"), currency="USD")
    (status,) = budget_statuses([budget], period=NOV)
    assert status.actual == Decimal("100.00")


def test_alerts_are_sent_once_per_threshold_and_month(chatbot, django_capture_on_commit_callbacks):
    budget = budget_save(use_case=chatbot, amount=Decimal("120.00"), currency="USD")
    check_budget_alerts(periods=[NOV])
    assert sorted(BudgetAlert.objects.values_list("threshold", flat=True)) == [50, 80]
    first = Notification.objects.filter(key__startswith=f"budget:{budget.pk}:2026-11:").count()
    assert first >= 2  # at least the accountable owner, for each threshold
    check_budget_alerts(periods=[NOV])
    check_budget_alerts(periods=[NOV])
    assert BudgetAlert.objects.count() == 2
    assert Notification.objects.filter(key__startswith=f"budget:{budget.pk}:").count() == first
    budget_save(budget=budget, amount=Decimal("90.00"))
    check_budget_alerts(periods=[NOV])
    assert sorted(BudgetAlert.objects.values_list("threshold", flat=True)) == [50, 80, 100]
    subject = Notification.objects.filter(key__contains=":100:").first().subject
    assert "reached 100 %" in subject and chatbot.key in subject


def test_budget_validation_names_the_field(chatbot):
    cases = [
        ({"use_case": chatbot, "team": chatbot.owning_team, "amount": Decimal(1)}, "use_case"),
        ({"use_case": chatbot, "amount": Decimal(0)}, "amount"),
        ({"use_case": chatbot, "amount": Decimal(1), "currency": "dollars"}, "currency"),
        ({"use_case": chatbot, "amount": Decimal(1), "thresholds": [50, "x"]}, "thresholds"),
    ]
    for fields, name in cases:
        with pytest.raises(ValidationError) as error:
            budget_save(**fields)
        assert name in error.value.message_dict
    assert not Budget.objects.exists()


def test_budget_pages_and_api(client, reviewer, team_member, chatbot):
    client.force_login(reviewer)
    response = client.post("/costs/budgets/new/", {"use_case": chatbot.pk, "amount": "120", "currency": "usd",
                                                   "thresholds": "50, 80, 100", "notes": ""})  # fmt: skip
    assert response.status_code == 302
    budget = Budget.objects.get()
    assert budget.currency == "USD" and budget.thresholds == [50, 80, 100]
    body = client.get("/costs/budgets/", {"period": "2026-11"}).content.decode()
    assert "83.3 %" in body and "300.00" in body and "How the forecast is made" in body
    status = client.get("/api/budgets/status/", {"period": "2026-11"}).json()
    assert status[0]["actual"] == "100.00" and status[0]["forecast"] == "300.00"
    assert status[0]["thresholds_reached"] == [50, 80]
    bad = client.post("/api/budgets/", {"use_case": chatbot.key, "amount": "-5", "currency": "USD"},
                      content_type="application/json")  # fmt: skip
    assert bad.status_code == 400 and "amount" in bad.json()
    client.force_login(team_member)
    assert client.get("/api/budgets/").json()["count"] == 0  # not their team


def test_portfolio_shows_the_forecast_of_the_last_month(client, executive, chatbot):
    client.force_login(executive)
    body = client.get("/costs/", {"from": "2026-10", "to": "2026-11"}).content.decode()
    assert "300.00 USD" in body and "forecast for 2026-11" in body


def test_maturity_learns_when_a_budget_is_set_or_removed(django_capture_on_commit_callbacks):
    from approvals.choices import AssessmentTriggerChoices
    from approvals.selectors.maturity import latest_assessment
    from approvals.services.maturity import maturity_assess

    with django_capture_on_commit_callbacks(execute=True):
        scoring = make_use_case(make_team("Retention"), "Churn scoring")
        maturity_assess(use_case=scoring, trigger=AssessmentTriggerChoices.MANUAL)

    def budget_set():
        return latest_assessment(scoring).results["cost_visibility.budget_set"]["status"]

    assert budget_set() == "unmet"
    with django_capture_on_commit_callbacks(execute=True):
        budget = budget_save(use_case=scoring, amount=Decimal("500"), currency="USD")
    assert budget_set() == "verified"
    with django_capture_on_commit_callbacks(execute=True):
        budget_delete(budget=budget)
    assert budget_set() == "unmet"
