"""Thresholds (API and the Health tab's forms) and the Health tab: latest values, badges,
sparkline data through json_script, the empty state, and bounded queries."""

# ruff: noqa: F811  (pytest fixtures imported from the fixture modules are parameters of the tests)

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from operations.models import HealthThreshold
from operations.services.signals import health_threshold_save
from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from portal.testing.queries import assert_queries_do_not_grow
from tests.approvals.conftest import file_use_case, legal_team, support_team  # noqa: F401
from tests.operations.signal_fixtures import add_signal, environments, use_case  # noqa: F401

pytestmark = pytest.mark.django_db

API = "/api/health-thresholds/"


def api_as(user):
    client = APIClient()
    client.force_login(user)
    return client


def tab_url(use_case):
    return reverse("inventory:usecase-detail", args=[use_case.key]) + "?tab=health"


#
# API
#


def test_the_owning_team_sets_thresholds_through_the_api(support_team, use_case, environments):
    client = api_as(support_team.lead)
    response = client.post(
        API, {"use_case": use_case.key, "metric": "accuracy", "minimum": "0.9"}, format="json"
    )
    assert response.status_code == 201, response.json()
    threshold = HealthThreshold.objects.get()
    assert threshold.minimum == Decimal("0.9") and threshold.environment is None
    assert AuditEntry.objects.filter(action=AuditActionChoices.CREATE, object_id=str(threshold.pk)).exists()

    changed = client.patch(
        f"{API}{threshold.pk}/", {"maximum": "0.99", "environment": "production"}, format="json"
    )
    assert changed.status_code == 200, changed.json()
    threshold.refresh_from_db()
    assert (threshold.maximum, threshold.environment.slug) == (Decimal("0.99"), "production")

    assert client.get(API, {"use_case__key": use_case.key}).json()["count"] == 1
    assert client.delete(f"{API}{threshold.pk}/").status_code == 204
    assert not HealthThreshold.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"minimum": "5", "maximum": "1"}, "maximum", "below the minimum"),
        ({}, "minimum", "Set a minimum, a maximum or both"),
        ({"minimum": "1", "stale_after_hours": 0}, "stale_after_hours", ""),
        ({"minimum": "1", "metric": "mood"}, "metric", ""),
    ],
)
def test_threshold_validation(support_team, use_case, environments, body, field, fragment):
    response = api_as(support_team.lead).post(API, {"use_case": use_case.key, "metric": "accuracy", **body},
                                              format="json")  # fmt: skip
    assert response.status_code == 400
    assert fragment in " ".join(response.json()[field])


def test_one_threshold_per_metric_and_environment(support_team, use_case, environments):
    client = api_as(support_team.lead)
    body = {"use_case": use_case.key, "metric": "accuracy", "minimum": "0.9"}
    assert client.post(API, body, format="json").status_code == 201
    assert client.post(API, body, format="json").status_code == 400
    # The same metric for one environment is another threshold (it wins there).
    assert client.post(API, {**body, "environment": "production"}, format="json").status_code == 201


def test_another_team_cannot_set_thresholds(legal_team, support_team, use_case, environments):
    response = api_as(legal_team.lead).post(API, {"use_case": use_case.key, "metric": "accuracy", "minimum": "1"},
                                            format="json")  # fmt: skip
    assert response.status_code == 403
    threshold = health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"))
    assert (
        api_as(legal_team.lead).patch(f"{API}{threshold.pk}/", {"minimum": "0"}, format="json").status_code
        == 403
    )


#
# The Health tab
#


def test_the_tab_shows_latest_values_badges_and_sparkline_data(
    client, support_team, use_case, environments, add_signal
):
    now = timezone.now()
    production, staging = environments["production"], environments["staging"]
    health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"), stale_after_hours=24)
    health_threshold_save(
        use_case=use_case, metric="error_rate", maximum=Decimal("0.05"), environment=production
    )
    for hours, value in ((30, "0.95"), (20, "0.93"), (2, "0.85")):
        add_signal(use_case, production, "accuracy", value, now - timedelta(hours=hours))
    add_signal(use_case, staging, "accuracy", "0.97", now - timedelta(hours=48))
    add_signal(use_case, production, "latency_p95_ms", "410", now - timedelta(days=40))

    client.force_login(support_team.lead)
    response = client.get(tab_url(use_case))
    assert response.status_code == 200
    rows = {(row.environment.slug, row.metric): row for row in response.context["health_rows"]}
    assert rows[("production", "accuracy")].latest.value == Decimal("0.85")
    assert rows[("production", "accuracy")].state == ("breach", "red")
    assert rows[("staging", "accuracy")].state == ("stale", "amber")  # 48 h old, stale after 24 h
    assert rows[("production", "latency_p95_ms")].state == ("no threshold", "grey")
    assert rows[("production", "error_rate")].state == ("no signal", "amber")

    html = response.content.decode()
    data = json.loads(
        html.split('<script id="health-chart-data" type="application/json">')[1].split("</script>")[0]
    )
    charts = {chart["element"]: chart for chart in data["charts"]}
    accuracy = charts["health-production-accuracy"]
    assert accuracy["y"] == ["0.95", "0.93", "0.85"]
    assert accuracy["minimum"] == "0.9" and accuracy["breached"] is True
    # 40 days old: outside the sparkline's 30 days, still the latest value in the table.
    assert "health-production-latency_p95_ms" not in charts
    assert 'src="/static/operations/js/health.js"' in html
    assert "<script>" not in html  # CSP: no inline script
    assert reverse("operations:threshold-add", args=[use_case.key]) in html


def test_the_sparkline_keeps_the_newest_200_points(client, support_team, use_case, environments, add_signal):
    now = timezone.now()
    for minute in range(210):
        add_signal(
            use_case, environments["production"], "drift_score", minute, now - timedelta(minutes=210 - minute)
        )
    client.force_login(support_team.lead)
    chart = client.get(tab_url(use_case)).context["health_chart"]["charts"][0]
    assert len(chart["y"]) == 200
    assert chart["y"][0] == "10" and chart["y"][-1] == "209"


def test_the_empty_state_says_how_to_post_signals(client, make_user, use_case, environments):
    client.force_login(make_user("reader", "executive"))
    html = client.get(tab_url(use_case)).content.decode()
    assert "No health signals yet" in html
    assert "/api/signals/" in html and "signals:ingest" in html
    # Readers see the tab, not the threshold forms.
    assert reverse("operations:threshold-add", args=[use_case.key]) not in html


def test_the_tab_queries_do_not_grow_with_signals(client, support_team, use_case, environments, add_signal):
    client.force_login(support_team.lead)
    now = timezone.now()

    def grow():
        for metric in ("accuracy", "error_rate", "drift_score"):
            health_threshold_save(use_case=use_case, metric=metric, maximum=Decimal("100"))
            for environment in environments.values():
                for hours in range(5):
                    add_signal(use_case, environment, metric, hours, now - timedelta(hours=hours))

    add_signal(use_case, environments["production"], "latency_p95_ms", 1, now)
    assert_queries_do_not_grow(client, tab_url(use_case), grow)


def test_thresholds_are_added_changed_and_removed_from_the_tab(client, support_team, use_case, environments):
    client.force_login(support_team.lead)
    add = reverse("operations:threshold-add", args=[use_case.key])
    page = client.get(add)
    assert page.status_code == 200 and "<title>" in page.content.decode()
    refused = client.post(
        add, {"metric": "accuracy", "minimum": "2", "maximum": "1", "stale_after_hours": 24}
    )
    assert refused.status_code == 200
    assert "below the minimum" in refused.content.decode()
    response = client.post(add, {"metric": "accuracy", "minimum": "0.9", "stale_after_hours": 12})
    assert response.status_code == 302 and response.url.endswith("?tab=health")
    threshold = HealthThreshold.objects.get()
    edit = reverse("operations:threshold-edit", args=[use_case.key, threshold.pk])
    assert client.get(edit).status_code == 200
    response = client.post(
        edit,
        {
            "metric": "accuracy",
            "environment": environments["production"].pk,
            "minimum": "0.8",
            "stale_after_hours": 6,
        },
    )
    assert response.status_code == 302
    threshold.refresh_from_db()
    assert (threshold.minimum, threshold.environment, threshold.stale_after_hours) == (
        Decimal("0.8"), environments["production"], 6,
    )  # fmt: skip
    delete = reverse("operations:threshold-delete", args=[use_case.key, threshold.pk])
    assert client.get(delete).status_code == 200
    assert client.post(delete).status_code == 302
    assert not HealthThreshold.objects.exists()


def test_only_the_owning_team_reaches_the_threshold_forms(client, legal_team, use_case, environments):
    threshold = health_threshold_save(use_case=use_case, metric="accuracy", minimum=Decimal("0.9"))
    client.force_login(legal_team.lead)
    assert client.get(reverse("operations:threshold-add", args=[use_case.key])).status_code == 403
    # The threshold is visible (the use case is), so changing it is refused, not hidden.
    assert (
        client.get(reverse("operations:threshold-edit", args=[use_case.key, threshold.pk])).status_code == 403
    )
    assert (
        client.post(reverse("operations:threshold-delete", args=[use_case.key, threshold.pk])).status_code
        == 403
    )
    assert HealthThreshold.objects.exists()
