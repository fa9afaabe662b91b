"""The health audit checks, called directly with an AuditScope: health-signal-missing (which use
cases must report, per threshold or at all) and health-threshold-breach (the latest value out of
range); positive, negative, scoped to one use case, and queries that do not grow."""

# ruff: noqa: F811  (pytest fixtures imported from the fixture modules are parameters of the tests)

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.catalogs import maturity as maturity_catalog
from inventory.models import UseCase
from operations.models import Deployment
from operations.services.signals import health_threshold_save
from portal.auditing import AuditScope, check_for
from portal.choices import SeverityChoices
from portal.demo import load_demo_portfolio
from tests.approvals.conftest import file_use_case, legal_team, support_team  # noqa: F401
from tests.approvals.gate_fixtures import move_to, pinned_release
from tests.operations.signal_fixtures import add_signal, environments, use_case  # noqa: F401

pytestmark = pytest.mark.django_db


def missing(scope):
    return {obs.subject_key: obs for obs in check_for("health-signal-missing").run(scope)}


def breaches(scope):
    return {obs.subject_key: obs for obs in check_for("health-threshold-breach").run(scope)}


def deploy(use_case, environment):
    """A current deployment, as the deployment service leaves it once it succeeded."""
    return Deployment.objects.create(
        use_case=use_case, release=pinned_release(use_case), environment=environment, status="succeeded",
        is_current=True,
    )  # fmt: skip


@pytest.fixture
def now():
    return timezone.now()


def test_both_checks_are_registered_with_their_severity_and_real_controls():
    assert check_for("health-signal-missing").severity == SeverityChoices.MEDIUM
    assert check_for("health-threshold-breach").severity == SeverityChoices.HIGH
    for check_id in ("health-signal-missing", "health-threshold-breach"):
        check = check_for(check_id)
        assert check.title and check.description and check.per_use_case
        assert check.controls and all(control in maturity_catalog.CHECKS for control in check.controls)


def test_a_use_case_not_in_production_is_not_asked_for_signals(use_case, environments, now):
    deploy(use_case, environments["staging"])
    health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"))
    assert missing(AuditScope(now=now)) == {}


def test_production_without_thresholds_needs_some_signal_in_48_hours(
    use_case, environments, add_signal, now, settings
):
    move_to(use_case, "production")
    found = missing(AuditScope(now=now))
    assert list(found) == [use_case.key]
    assert found[use_case.key].use_case_id == use_case.pk
    assert "?tab=health" in found[use_case.key].link

    # A staging signal does not prove production is watched.
    add_signal(use_case, environments["staging"], "accuracy", "0.9", now - timedelta(hours=1))
    assert list(missing(AuditScope(now=now))) == [use_case.key]

    add_signal(use_case, environments["production"], "accuracy", "0.9", now - timedelta(hours=47))
    assert missing(AuditScope(now=now)) == {}
    settings.PROPYLON_AUDIT_SIGNAL_STALE_HOURS = 24
    assert list(missing(AuditScope(now=now))) == [use_case.key]


def test_a_current_production_deployment_puts_a_use_case_in_production(use_case, environments, now):
    deploy(use_case, environments["production"])
    assert list(missing(AuditScope(now=now))) == [use_case.key]


def test_with_thresholds_each_thresholded_metric_must_report_within_its_window(
    use_case, environments, add_signal, now
):
    production = environments["production"]
    deploy(use_case, production)
    health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"), stale_after_hours=6)
    health_threshold_save(
        use_case=use_case, metric="error_rate", maximum=Decimal("0.05"), stale_after_hours=24
    )
    add_signal(use_case, production, "accuracy", "0.95", now - timedelta(hours=7))
    add_signal(use_case, production, "error_rate", "0.01", now - timedelta(hours=1))
    found = missing(AuditScope(now=now))
    # Judged by its thresholds only: no use-case-wide finding on top.
    assert set(found) == {f"{use_case.key}:production:accuracy"}
    assert "6 hours" in found[f"{use_case.key}:production:accuracy"].title

    add_signal(use_case, production, "accuracy", "0.95", now - timedelta(hours=1))
    assert missing(AuditScope(now=now)) == {}


def test_a_staged_use_case_without_a_known_deployment_reports_from_any_production_environment(
    use_case, environments, add_signal, now
):
    move_to(use_case, "production")
    health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"))
    assert set(missing(AuditScope(now=now))) == {f"{use_case.key}:*:accuracy"}
    add_signal(use_case, environments["production"], "accuracy", "0.95", now - timedelta(hours=1))
    assert missing(AuditScope(now=now)) == {}


def test_a_threshold_for_staging_only_is_not_a_production_duty(use_case, environments, now):
    move_to(use_case, "production")
    health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"),
                          environment=environments["staging"])  # fmt: skip
    assert missing(AuditScope(now=now)) == {}


def test_breach_uses_the_latest_value_and_the_most_specific_threshold(
    use_case, environments, add_signal, now
):
    production, staging = environments["production"], environments["staging"]
    health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"))
    health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.5"), environment=staging)
    add_signal(use_case, production, "accuracy", "0.85", now - timedelta(hours=2))
    add_signal(use_case, production, "accuracy", "0.80", now - timedelta(hours=1))
    add_signal(use_case, staging, "accuracy", "0.6", now - timedelta(hours=1))  # fine for staging's 0.5
    found = breaches(AuditScope(now=now))
    assert set(found) == {f"{use_case.key}:production:accuracy"}
    observation = found[f"{use_case.key}:production:accuracy"]
    assert observation.data["value"] == "0.8" and observation.data["minimum"] == "0.9"
    assert "at least 0.9" in observation.detail

    # It recovers: the latest value is in range again, the observation is gone.
    add_signal(use_case, production, "accuracy", "0.95", now)
    assert breaches(AuditScope(now=now)) == {}


def test_a_metric_without_threshold_never_breaches(use_case, environments, add_signal, now):
    health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"))
    add_signal(use_case, environments["production"], "error_rate", "0.99", now)
    assert breaches(AuditScope(now=now)) == {}


def test_checks_scoped_to_one_use_case(
    support_team, legal_team, file_use_case, environments, add_signal, now
):
    first = file_use_case(support_team, submit=True, name="First")
    second = file_use_case(legal_team, submit=True, name="Second")
    for each in (first, second):
        move_to(each, "production")
        health_threshold_save(use_case=each, metric="accuracy", minimum=Decimal("0.9"))
        add_signal(each, environments["production"], "accuracy", "0.1", now - timedelta(days=3))
    assert set(breaches(AuditScope(now=now))) == {
        f"{first.key}:production:accuracy",
        f"{second.key}:production:accuracy",
    }
    assert set(breaches(AuditScope(use_case_id=first.pk, now=now))) == {f"{first.key}:production:accuracy"}
    assert set(missing(AuditScope(now=now))) == {f"{first.key}:*:accuracy", f"{second.key}:*:accuracy"}
    assert set(missing(AuditScope(use_case_id=second.pk, now=now))) == {f"{second.key}:*:accuracy"}


def _queries(check_id: str, scope: AuditScope) -> int:
    with CaptureQueriesContext(connection) as captured:
        list(check_for(check_id).run(scope))
    return len(captured)


def test_query_counts_do_not_grow_with_the_portfolio(
    support_team, file_use_case, environments, add_signal, now
):
    def add_use_cases(count, start):
        for number in range(start, start + count):
            use_case = file_use_case(support_team, submit=True, name=f"Use case {number}")
            move_to(use_case, "production")
            if number % 2:
                deploy(use_case, environments["production"])
            health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"))
            health_threshold_save(use_case=use_case, metric="error_rate", maximum=Decimal("0.1"),
                                  environment=environments["production"])  # fmt: skip
            add_signal(use_case, environments["production"], "accuracy", "0.5", now - timedelta(days=2))

    add_use_cases(2, 0)
    before = {
        check: _queries(check, AuditScope(now=now))
        for check in ("health-signal-missing", "health-threshold-breach")
    }
    add_use_cases(6, 2)
    after = {
        check: _queries(check, AuditScope(now=now))
        for check in ("health-signal-missing", "health-threshold-breach")
    }
    assert after == before
    assert before == {"health-signal-missing": 5, "health-threshold-breach": 2}
    assert len(missing(AuditScope(now=now))) == 16  # two stale thresholds per use case
    assert len(breaches(AuditScope(now=now))) == 8


def test_on_the_demo_portfolio_the_forecast_drifts_and_the_fraud_scoring_is_unmonitored(now):
    load_demo_portfolio()
    found = missing(AuditScope(now=now))
    # UC-0009 runs in production (without approval: another check's finding) and monitoring
    # posts nothing for it; the forecast (UC-0008) reports every six hours, within its thresholds'
    # 24 hours, but its drift has crept past the limit.
    assert set(found) == {"UC-0009"}
    in_production = set(
        UseCase.objects.filter(lifecycle_stage__kind="production").values_list("key", flat=True)
    )
    assert in_production == {"UC-0008", "UC-0009"}
    assert set(breaches(AuditScope(now=now))) == {"UC-0008:production:drift_score"}
