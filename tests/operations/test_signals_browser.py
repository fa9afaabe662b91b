"""The Health tab in a real browser (Playwright, the system's Chromium): the sparklines draw
from the json_script data with no console error (the CSP allows no inline script), and a team
lead reaches the threshold form from the tab."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Environment, UseCase
from operations.models import HealthSignal
from operations.services.signals import health_threshold_save
from portal.demo import load_demo_portfolio
from tests.test_browser import sign_in
from tests.test_browser_charts import collect_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_health_tab_draws_its_sparklines(page):
    load_demo_portfolio()
    use_case = UseCase.objects.get(key="UC-0001")
    production = Environment.objects.get(slug="production")
    now = timezone.now()
    HealthSignal.objects.bulk_create(
        HealthSignal(use_case=use_case, environment=production, metric=metric,
                     value=Decimal(base) + Decimal(step) * (hour // 3 % 4), observed_at=now - timedelta(hours=hour))
        for metric, base, step in (("accuracy", "0.90", "0.01"), ("latency_p95_ms", "400", "5"))
        for hour in range(0, 72, 3)
    )  # fmt: skip
    health_threshold_save(use_case=use_case, metric="latency_p95_ms", maximum=Decimal("399"))
    errors = collect_errors(page)
    sign_in(page, "cto")
    page.wait_for_url("**/")
    response = page.goto("/use-cases/UC-0001/?tab=health")
    assert response.status == 200
    for chart in ("#health-production-accuracy", "#health-production-latency_p95_ms"):
        page.locator(f"{chart} .main-svg").first.wait_for()
    assert page.locator(".badge", has_text="breach").count() == 1
    page.wait_for_load_state("networkidle")
    assert errors == []
