"""Every chart page in a real browser (Playwright, the system's Chromium): the charts draw with
no console error, and a label that holds HTML is shown as text — never a link (issue 10)."""

import pytest

from inventory.models import BusinessUnit, Team
from portal.demo import load_demo_portfolio
from tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

EVIL = '<a href="//evil.example">x</a>'
CHART_PAGES = [
    ("/costs/", "#chart-business-units"),
    ("/costs/value/", None),
    ("/use-cases/UC-0001/?tab=costs", "[id^=chart-uc-]"),
    ("/use-cases/UC-0001/?tab=maturity", "#maturity-vector"),
    ("/gates/metrics/", "#coe-decision-chart"),
]


def collect_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else None,
    )
    return errors


def test_every_chart_page_draws_without_console_errors(page):
    load_demo_portfolio()
    errors = collect_errors(page)
    sign_in(page, "cto")
    page.wait_for_url("**/")
    for url, chart in CHART_PAGES:
        response = page.goto(url)
        assert response.status == 200, url
        if chart:
            page.locator(f"{chart} .main-svg").first.wait_for()
        page.wait_for_load_state("networkidle")
    assert errors == []


def test_a_label_holding_html_is_text_in_every_chart(page):
    load_demo_portfolio()
    # Names people type reach the charts' legends and axes.
    unit = BusinessUnit.objects.filter(teams__use_cases__key="UC-0001").first()
    BusinessUnit.objects.filter(pk=unit.pk).update(name=EVIL)
    Team.objects.filter(use_cases__key="UC-0001").update(name=EVIL)
    errors = collect_errors(page)
    sign_in(page, "cto")
    page.wait_for_url("**/")
    page.goto("/costs/")
    for chart in ("#chart-business-units", "#chart-teams"):
        page.locator(f"{chart} .legendtext").first.wait_for()
        legend = page.locator(f"{chart} .legendtext").all_text_contents()
        assert any(EVIL in text for text in legend), legend
        assert page.locator(f"{chart} svg a").count() == 0
    assert page.locator(".cost-chart svg a").count() == 0
    assert not page.locator('a[href="//evil.example"]').count()
    assert errors == []
