"""Issue 12 in a real browser: a team lead deploys an approved release to production and sees it
succeed; a release without a production approval is refused on the page with the reason."""

import json
import urllib.request

import pytest

from inventory.models import Environment, UseCase
from operations.models import Deployment
from operations.targets.base import signed_headers
from operations.testing import FakeTarget
from portal.demo import load_demo_portfolio
from tests.operations.deploy_fixtures import SECRET, approve_for_production, make_release, make_target
from tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _post_callback(base_url: str, deployment_id: int, payload: dict) -> int:
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{base_url}/api/deployments/{deployment_id}/callback/",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **signed_headers(SECRET, body)},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


@pytest.fixture
def fake_target():
    with FakeTarget() as fake:
        yield fake


def test_a_lead_deploys_an_approved_release_and_an_unapproved_one_is_refused(page, live_server, fake_target):
    load_demo_portfolio()
    use_case = UseCase.objects.get(key="UC-0001")
    production = Environment.objects.get(slug="production")
    production.deployment_targets.update(enabled=False)
    make_target(production, fake_target.url, name="browser-hook")
    approved = make_release(use_case, "9.9.0")
    approve_for_production(use_case, approved)
    make_release(use_case, "9.9.1-unapproved")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    sign_in(page, "lead")
    page.wait_for_url("**/")
    page.get_by_role("link", name="Deployments").first.click()
    page.wait_for_url("**/deployments/")
    page.goto("/use-cases/UC-0001/?tab=deployments")
    assert "9.9.0" in page.locator("#production-coverage").inner_text()

    # Without an approval of that exact release: refused, with the reason, on the page.
    page.get_by_label("Release").select_option(label="9.9.1-unapproved (git:9.9.1-unapproved)")
    page.get_by_label("Environment").select_option(label="Production (production)")
    page.get_by_role("button", name="Deploy").click()
    refusal = page.get_by_role("alert").inner_text()
    assert "Refused: UC-0001 release 9.9.1-unapproved cannot be deployed to Production" in refusal
    assert not Deployment.objects.filter(release__version="9.9.1-unapproved").exists()

    # The approved release goes out; the target reports success and the page follows it live.
    page.get_by_label("Release").select_option(label="9.9.0 (git:9.9.0)")
    page.get_by_label("Environment").select_option(label="Production (production)")
    page.get_by_role("button", name="Deploy").click()
    page.wait_for_url("**/deployments/*/")
    deployment = Deployment.objects.get(release=approved)
    assert "queued" in page.get_by_role("status").inner_text()
    assert len(fake_target.requests) == 1
    assert (
        _post_callback(live_server.url, deployment.pk, {"status": "succeeded", "message": "Rolled out"})
        == 200
    )
    page.locator("#deployment-state").locator("xpath=..").get_by_text("Succeeded", exact=True).wait_for(
        timeout=15_000
    )
    page.goto("/use-cases/UC-0001/?tab=deployments")
    production_row = page.locator("tr", has_text="Production").first
    assert "9.9.0" in production_row.inner_text()
    assert errors == []
