"""Allocation on ordinary real data and when something goes wrong (issue 10, items 3 and 4):
late-billed usage, one (source, period) failing without stopping the others, and allocation
that has gone stale against the current rules or imports."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from costs import services
from costs.allocation import allocate
from costs.models import CostAllocation, CostSource
from costs.reconciliation import reconcile
from costs.testing import assert_reconciles
from portal.models import JobRun
from tests.costs.cost_data import TIME, import_lines, line, make_source, make_team, make_use_case

pytestmark = pytest.mark.django_db

OCT, NOV, DEC = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)


def late_billed(month: date, cost: str, *, used_on: date, **fields) -> dict:
    """A line of ``month``'s bill for usage of an earlier day: its charge period ends before the
    billing period starts."""
    row = line(month, cost, **fields)
    start = datetime(used_on.year, used_on.month, used_on.day, tzinfo=UTC)
    row["ChargePeriodStart"] = start.strftime(TIME)
    row["ChargePeriodEnd"] = start.replace(hour=23, minute=0).strftime(TIME)
    return row


def test_a_period_of_only_late_billed_usage_allocates_and_reconciles(
    tmp_path, django_capture_on_commit_callbacks
):
    source = make_source()
    team = make_team("Support")
    chatbot = make_use_case(team, "Support chatbot")
    services.allocation_rule_save(name="Keys", kind="use_case_key_tag")
    with django_capture_on_commit_callbacks(execute=True):
        import_lines(source, tmp_path, [
            late_billed(DEC, "4.00", used_on=date(2026, 11, 29), tags={"use-case": chatbot.key}),
            late_billed(DEC, "1.50", used_on=date(2026, 11, 30)),
        ])  # fmt: skip
    job = JobRun.objects.filter(task_name="costs.allocate_costs").latest("pk")
    assert job.status == "succeeded", job.error
    assert_reconciles(source, DEC, allocate=False)
    row = CostAllocation.objects.get(use_case=chatbot)
    assert row.effective_cost == Decimal("4.00")
    # No day of December is complete yet: no run-rate, never a negative window.
    assert (row.data_through, row.recent_days) == (DEC, 0)
    (line_,) = reconcile(sources=CostSource.objects.all())
    assert line_.ok


def test_late_billed_usage_next_to_this_months_usage(tmp_path):
    source = make_source()
    import_lines(source, tmp_path, [
        late_billed(DEC, "3.00", used_on=date(2026, 11, 20)),
        line(DEC, "2.00", day=10),
    ])  # fmt: skip
    allocate(source=source)
    assert_reconciles(source, DEC, allocate=False)
    row = CostAllocation.objects.get()
    assert row.data_through == date(2026, 12, 11) and row.recent_days == 7
