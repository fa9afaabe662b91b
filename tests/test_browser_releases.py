"""Issue 10 item 2 in a real browser: a team lead builds a release and asks for a gate on it."""

import pytest

from portal.demo import load_demo_portfolio
from tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DIGEST = "0123456789abcdef" * 4


def test_a_team_lead_assembles_a_release_and_offers_it_to_a_gate(page):
    load_demo_portfolio()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "lead")
    page.wait_for_url("**/")
    page.goto("/use-cases/UC-0002/?tab=releases")
    built_from = page.get_by_role("region", name="What it is built from")
    built_from.get_by_role("link", name="Model", exact=True).click()

    page.get_by_label("Name").fill("Reply drafter")
    page.get_by_label("Provider").select_option(label="Hosted model API")
    page.get_by_role("button", name="Register model").click()
    page.wait_for_url("**/versions/new/")
    assert "Reply drafter registered" in page.get_by_role("status").inner_text()

    page.get_by_label("Version").fill("2026-11")
    page.get_by_label("SHA-256 digest").fill(f"sha256:{DIGEST}")
    page.get_by_label("Artifact uri").fill("s3://models/reply-drafter/2026-11")
    page.get_by_role("button", name="Add version").click()
    page.wait_for_url("**/use-cases/UC-0002/?tab=releases")
    assert "Reply drafter 2026-11 added" in page.get_by_role("status").inner_text()

    page.get_by_role("link", name="Assemble a release").click()
    page.locator("input[name=version]").fill("1.0.0")  # "Version" alone also matches "Model versions"
    page.get_by_label("Code ref").fill("git:5e1f00d")
    page.get_by_label("Model versions").select_option(label="Reply drafter 2026-11")
    page.get_by_role("button", name="Assemble release").click()
    page.wait_for_url("**/use-cases/UC-0002/?tab=releases*")
    row = page.locator("tr", has_text="1.0.0")
    assert "Reply drafter 2026-11" in row.inner_text() and "open" in row.inner_text()

    page.goto("/use-cases/UC-0002/?tab=approvals")
    page.get_by_role("link", name="Ask for a gate").click()
    offered = page.get_by_label("Release").locator("option").all_inner_texts()
    assert "1.0.0 (git:5e1f00d)" in offered
    assert errors == []
