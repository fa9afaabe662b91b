"""In a real browser: an admin finds the deployment targets in the navigation, connects an
Argo CD application and sends it a test event."""

import pytest

from operations.testing import FakeTarget
from portal.demo import load_demo_portfolio
from tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TOKEN = "argocd-account-token-never-shown"


def test_an_admin_connects_argo_cd_and_sends_a_test_event(page):
    load_demo_portfolio()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "admin")
    page.wait_for_url("**/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deployment targets").click()
    page.wait_for_url("**/deployment-targets/")
    page.get_by_role("link", name="New deployment target").click()

    with FakeTarget() as argo:
        argo.respond(200, {"status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}})
        page.get_by_label("Name").fill("Argo CD staging")
        page.get_by_label("Slug").fill("argo-staging")
        page.get_by_label("Kind").select_option(label="Argo CD application sync")
        page.get_by_label("Environment").select_option(label="Staging")
        page.get_by_label("URL").fill(argo.url)
        page.get_by_label("Options").fill('{"application": "fraud-model"}')
        page.get_by_label("Secret or token", exact=True).fill(TOKEN)
        page.get_by_role("button", name="Save").click()
        page.wait_for_url("**/deployment-targets/argo-staging/")
        assert "Deployment target “Argo CD staging” created." in page.get_by_role("status").inner_text()
        assert TOKEN not in page.content()

        page.get_by_role("button", name="Send a test event").click()
        page.wait_for_url("**/deployment-targets/argo-staging/")
        assert (
            "fraud-model is reachable (sync: Synced, health: Healthy)"
            in page.get_by_role("status").inner_text()
        )
    assert len(argo.requests) == 1 and argo.requests[0].path == "/api/v1/applications/fraud-model"

    page.get_by_role("link", name="Edit").click()
    assert page.get_by_label("Secret or token", exact=True).input_value() == ""
    assert TOKEN not in page.content()
    assert errors == []
