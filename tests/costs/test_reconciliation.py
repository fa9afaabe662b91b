"""Reconciliation (DESIGN.md §4.4): allocated + shared + unallocated = the import's totals to the
cent, per source, month and currency; a mismatch and a stale allocation are reported."""

from datetime import date
from decimal import Decimal

import pytest

from costs.models import CostAllocation, CostSource
from costs.selectors.reconciliation import reconcile
from costs.services.allocation import allocation_rule_save, shared_pool_save
from costs.services.allocation_engine import allocate_period
from costs.services.imports import cost_import_run
from costs.services.sources import cost_source_create
from costs.testing import assert_reconciles
from tests.costs.billing_files import FOCUS_COLUMNS, focus_rows, write_csv
from tests.costs.cost_data import import_lines, line, make_source, make_team, make_use_case

pytestmark = pytest.mark.django_db

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)


def test_the_colleagues_focus_fixture_reconciles_with_rules_pools_credits_and_tax(tmp_path):
    team = make_team("Support")
    first = make_use_case(team, "First", key="UC-0001")
    make_use_case(team, "Second", key="UC-0002")
    pool = shared_pool_save(name="Taxes and credits", split_method="direct_cost",
                                     members=[{"use_case": first}, {"team": team}])  # fmt: skip
    allocation_rule_save(name="Keys", position=1, kind="use_case_key_tag")
    allocation_rule_save(name="EC2 shared", position=2, service_name="Amazon EC2", target_pool=pool)
    path = write_csv(tmp_path / "focus.csv", FOCUS_COLUMNS, focus_rows(NOV, count=60))
    source = cost_source_create(name="FOCUS", kind="focus", location="")
    cost_import_run(source=source, location=str(path))
    assert_reconciles(source, NOV)
    (line_,) = reconcile(sources=CostSource.objects.all())
    assert line_.ok and line_.direct and line_.shared and line_.unallocated


def test_a_mismatch_and_a_stale_allocation_are_reported(tmp_path):
    source = make_source()
    import_lines(source, tmp_path, [line(NOV, "10.00"), line(NOV, "0.01")])
    allocate_period(source=source, period=NOV)
    CostAllocation.objects.update(billed_cost=Decimal("10.00"))
    (mismatch,) = reconcile(sources=CostSource.objects.all())
    assert not mismatch.ok and mismatch.difference == Decimal("-0.01")
    with pytest.raises(AssertionError, match=r"difference -0\.01"):
        assert_reconciles(source, NOV, allocate=False)
    allocate_period(source=source, period=NOV)
    assert_reconciles(source, NOV, allocate=False)
    import_lines(source, tmp_path, [line(NOV, "12.00")])  # restated; its job has not run here
    (stale,) = reconcile(sources=CostSource.objects.all())
    assert stale.is_stale and not stale.ok
    assert_reconciles(source, NOV)


def test_several_sources_and_currencies_each_reconcile(tmp_path):
    aws, azure = make_source("AWS"), make_source("Azure")
    import_lines(aws, tmp_path, [line(NOV, "1.005"), line(NOV, "2.0049999999", currency="EUR", account="EU")])
    import_lines(azure, tmp_path, [line(NOV, "3.333333", provider="Azure", account="AZ")])
    for source in (aws, azure):
        assert_reconciles(source, NOV)
    lines = reconcile(sources=CostSource.objects.all(), period_start=NOV, period_end=DEC)
    assert {(line_.source_name, line_.currency) for line_ in lines} == {("AWS", "USD"), ("AWS", "EUR"),
                                                                          ("Azure", "USD")}  # fmt: skip
    assert all(line_.ok for line_ in lines)
