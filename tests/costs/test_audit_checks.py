"""Costs' audit checks called directly with an AuditScope: budget overrun and spend that reaches
no use case, each with a positive and a negative case, scoping, and a query count that does not
grow with the number of budgets or sources."""

from datetime import date
from decimal import Decimal

import pytest

from costs.services.allocation import allocation_rule_save
from costs.services.allocation_engine import allocate
from costs.services.budgets import budget_save
from tests.approvals.audit_check_helpers import assert_check_queries_do_not_grow, observe
from tests.costs.cost_data import import_lines, line, make_source, make_team, make_use_case

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)
OCT = date(2026, 10, 1)


@pytest.fixture
def tagged_rule():
    allocation_rule_save(name="Use-case tag", kind="use_case_key_tag")


def spend(tmp_path, source, use_case, cost: str, month=NOV):
    import_lines(source, tmp_path, [line(month, cost, tags={"use-case": use_case.key})])


#
# budget-overrun
#


def test_budget_overrun_for_use_cases_and_teams(tmp_path, tagged_rule):
    team = make_team("Support")
    over = make_use_case(team, "Support chatbot")
    within = make_use_case(team, "Reply suggestions")
    source = make_source()
    import_lines(
        source, tmp_path,
        [line(NOV, "100.00", tags={"use-case": over.key}), line(NOV, "20.00", tags={"use-case": within.key})],
    )  # fmt: skip
    allocate()
    budget_save(use_case=over, amount=Decimal("90.00"), currency="USD")
    budget_save(use_case=within, amount=Decimal("250.00"), currency="USD")
    budget_save(team=team, amount=Decimal("100.00"), currency="USD")

    found = observe("budget-overrun")
    assert set(found) == {f"{over.key}:USD", f"team:{team.slug}:USD"}
    mine = found[f"{over.key}:USD"]
    assert mine.use_case_id == over.pk and mine.owner_id is None and not mine.owned_by_coe
    assert mine.data == {"budget": mine.data["budget"], "period": "2026-11", "spent": "100.00", "amount": "90.00",
                         "currency": "USD"}  # fmt: skip
    assert "tab=costs" in mine.link
    teams = found[f"team:{team.slug}:USD"]
    assert teams.use_case_id is None and teams.owner_id == team.lead_id and not teams.owned_by_coe

    # One use case's run: its own budget only, never a team's.
    assert set(observe("budget-overrun", use_case=over)) == {f"{over.key}:USD"}
    assert observe("budget-overrun", use_case=within) == {}


def test_budget_overrun_queries_do_not_grow(tmp_path, tagged_rule):
    team = make_team("Support")
    source = make_source()

    def overrun(*names):
        use_cases = [make_use_case(team, name) for name in names]
        import_lines(source, tmp_path, [line(NOV, "50.00", tags={"use-case": uc.key}) for uc in use_cases])
        allocate()
        for use_case in use_cases:
            budget_save(use_case=use_case, amount=Decimal("10.00"), currency="USD")

    overrun("First")
    assert_check_queries_do_not_grow("budget-overrun", lambda: overrun("Second", "Third"))


#
# unallocated-spend
#


def test_unallocated_spend_counts_cost_that_reaches_no_use_case(tmp_path, tagged_rule, settings):
    settings.PROPYLON_AUDIT_UNALLOCATED_SHARE = Decimal("0.05")
    team = make_team("Support")
    use_case = make_use_case(team, "Support chatbot")
    source = make_source("Cloud (AWS)")
    # October: 2 % unallocated, under the threshold. November (the latest month): 4 % unallocated
    # and 4 % given to the team only by a rule: 8 % reaches no use case.
    import_lines(
        source, tmp_path,
        [line(OCT, "98.00", tags={"use-case": use_case.key}), line(OCT, "2.00", service="AWS Support")],
    )  # fmt: skip
    import_lines(
        source, tmp_path,
        [
            line(NOV, "92.00", tags={"use-case": use_case.key}),
            line(NOV, "4.00", service="AWS Support"),
            line(NOV, "4.00", service="Amazon EC2", resource="i-0untagged-gpu"),
        ],
    )  # fmt: skip
    allocation_rule_save(
        name="GPU box", kind="match", resource_pattern="*i-0untagged-gpu*", target_team=team, position=5
    )
    allocate()

    found = observe("unallocated-spend")
    assert set(found) == {"cloud-aws:2026-11"}
    observation = found["cloud-aws:2026-11"]
    assert observation.owned_by_coe and observation.use_case_id is None
    assert observation.data["shares"] == {"USD": "8.0"}
    assert "4.00 unallocated, 4.00 given to a team only" in observation.detail

    settings.PROPYLON_AUDIT_UNALLOCATED_SHARE = Decimal("0.10")
    assert observe("unallocated-spend") == {}


def test_unallocated_spend_is_quiet_when_everything_is_allocated(tmp_path, tagged_rule):
    team = make_team("Support")
    use_case = make_use_case(team, "Support chatbot")
    source = make_source()
    spend(tmp_path, source, use_case, "100.00")
    allocate()
    assert observe("unallocated-spend") == {}


def test_unallocated_spend_queries_do_not_grow(tmp_path, tagged_rule):
    def untagged_source(name):
        import_lines(make_source(name), tmp_path, [line(NOV, "10.00", service="AWS Support")])
        allocate()

    untagged_source("First")
    assert_check_queries_do_not_grow(
        "unallocated-spend", lambda: [untagged_source("Second"), untagged_source("Third")]
    )
