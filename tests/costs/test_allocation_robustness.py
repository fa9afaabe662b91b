"""Allocation on ordinary real data and when something goes wrong (issue 10, items 3 and 4):
late-billed usage, one (source, period) failing without stopping the others, and allocation
that has gone stale against the current rules or imports."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from costs.models import CostAllocation, CostSource
from costs.selectors.reconciliation import reconcile
from costs.services.allocation import allocation_rule_delete, allocation_rule_save, shared_pool_save
from costs.services.allocation_engine import allocate
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
    allocation_rule_save(name="Keys", kind="use_case_key_tag")
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


def test_one_failing_period_does_not_stop_the_others_and_is_visible(
    tmp_path, monkeypatch, django_capture_on_commit_callbacks, client, executive, admin_user
):
    broken, healthy = make_source("Broken"), make_source("Healthy")  # broken is allocated first
    import_lines(broken, tmp_path, [line(NOV, "5.00"), line(DEC, "6.00")])
    import_lines(healthy, tmp_path, [line(NOV, "7.00", account="H"), line(DEC, "8.00", account="H")])
    from costs.services import allocation_engine

    real_drivers = allocation_engine._drivers

    def drivers(cursor, source, period):
        if source.name == "Broken" and period == NOV:
            raise ValueError("the database went away")
        return real_drivers(cursor, source, period)

    monkeypatch.setattr(allocation_engine, "_drivers", drivers)
    with django_capture_on_commit_callbacks(execute=True):
        allocation_engine.request_allocation()
    job = JobRun.objects.filter(task_name="costs.allocate_costs").latest("pk")
    assert job.status == "failed"
    assert "1 of 4 period(s) could not be allocated" in job.error
    assert "Allocation of Broken 2026-11 failed: ValueError: the database went away." in job.error
    # Every other (source, period) was allocated and reconciles.
    assert_reconciles(healthy, NOV, allocate=False)
    assert_reconciles(healthy, DEC, allocate=False)
    assert_reconciles(broken, DEC, allocate=False)
    assert not CostAllocation.objects.filter(source=broken, period=NOV).exists()
    lines = {(item.source_name, item.period): item for item in reconcile(sources=CostSource.objects.all())}
    failed = lines[("Broken", NOV)]
    assert not failed.ok and failed.status == "failed" and "the database went away" in failed.failure
    assert all(item.ok for key, item in lines.items() if key != ("Broken", NOV))

    client.force_login(executive)
    page = client.get("/costs/reconciliation/", {"from": "2026-11", "to": "2026-12"}).content.decode()
    assert "Allocation failed for 1 period" in page
    assert "Allocation of Broken 2026-11 failed: ValueError: the database went away" in page
    api = client.get("/api/cost-allocations/reconciliation/", {"from": "2026-11", "to": "2026-12"}).json()
    (entry,) = [e for e in api if e["source_name"] == "Broken" and e["period"] == "2026-11"]
    assert entry["status"] == "failed" and "database went away" in entry["failure"] and not entry["ok"]
    client.force_login(admin_user)
    page = client.get(f"/costs/sources/{broken.pk}/").content.decode()
    assert "Allocation failed for 1 billing month" in page and f"job #{job.pk}" in page

    # Fixed: the next run clears the failure.
    monkeypatch.setattr(allocation_engine, "_drivers", real_drivers)
    allocate()
    assert all(item.ok for item in reconcile(sources=CostSource.objects.all()))


def test_allocation_gone_stale_against_rules_pools_and_imports_is_reported(tmp_path):
    source = make_source()
    team = make_team("Support")
    chatbot = make_use_case(team, "Support chatbot")
    other = make_use_case(team, "Docs search")
    import_lines(source, tmp_path, [line(NOV, "10.00", tags={"use-case": chatbot.key}), line(NOV, "2.00")])
    allocate()
    (line_,) = reconcile(sources=CostSource.objects.all())
    assert line_.ok

    # A rule is added and its recomputation has not run (queued, or failed): the sums still
    # agree, but the allocation no longer says where the money goes under the current rules.
    rule = allocation_rule_save(name="Keys", kind="use_case_key_tag")
    (line_,) = reconcile(sources=CostSource.objects.all())
    assert not line_.ok and line_.status == "stale"
    assert any("Rules or pools changed since it was computed" in reason for reason in line_.stale_reasons)
    allocate()
    assert reconcile(sources=CostSource.objects.all())[0].ok

    # A pool's members change.
    pool = shared_pool_save(name="Platform", split_method="even", members=[{"use_case": chatbot}])
    allocation_rule_save(name="S3 shared", position=1, service_name="Amazon S3", target_pool=pool)
    allocate()
    assert reconcile(sources=CostSource.objects.all())[0].ok
    shared_pool_save(pool=pool, name="Platform", split_method="even",
                              members=[{"use_case": chatbot}, {"use_case": other}])  # fmt: skip
    assert reconcile(sources=CostSource.objects.all())[0].is_stale
    allocate()

    # A rule is disabled / deleted.
    allocation_rule_delete(rule=rule)
    assert reconcile(sources=CostSource.objects.all())[0].is_stale
    allocate()

    # A newer import of the period becomes current.
    (restated,) = import_lines(source, tmp_path, [line(NOV, "10.00", tags={"use-case": chatbot.key})])
    (line_,) = reconcile(sources=CostSource.objects.all())
    assert line_.is_stale and any(f"#{restated.pk}" in reason for reason in line_.stale_reasons)
    allocate()
    assert reconcile(sources=CostSource.objects.all())[0].ok
