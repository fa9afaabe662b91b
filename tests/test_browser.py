"""The portal in a real browser: Playwright driving the system's Chromium."""

import pytest

from portal.demo import DEMO_PASSWORD, load_demo_portfolio

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_person_signs_in_and_sees_the_home_page(page):
    load_demo_portfolio()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, "lead")
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text() == "Good to see you, Lena"
    assert page.get_by_role("link", name="Support chatbot").is_visible()
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Jobs").is_visible()
    assert not nav.get_by_role("link", name="Admin").count()
    assert errors == []  # no CSP violation, no missing asset


def test_a_wrong_password_is_explained(page):
    load_demo_portfolio()
    page.goto("/login/")
    page.get_by_label("Username").fill("lead")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert "Please enter a correct username and password" in page.get_by_role("alert").inner_text()


def test_an_admin_runs_a_job_and_watches_it_finish(page):
    load_demo_portfolio()
    sign_in(page, "admin")
    page.wait_for_url("**/")
    page.get_by_role("link", name="Jobs").first.click()
    page.get_by_label("Job to start").select_option(label="Prune old job runs")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url("**/jobs/*/")
    assert page.get_by_text("Succeeded").first.is_visible()
    assert "Deleted 0 job run(s)." in page.locator(".log").inner_text()


def test_the_layout_works_on_a_tablet(page):
    load_demo_portfolio()
    page.set_viewport_size({"width": 820, "height": 1180})
    sign_in(page, "cto")
    page.wait_for_url("**/")
    header_height = page.locator(".sidebar").bounding_box()["height"]
    assert header_height < 140  # the sidebar becomes a compact top bar
    page.get_by_role("link", name="Teams").first.click()
    assert page.get_by_role("heading", name="Teams").is_visible()


def test_a_team_lead_updates_their_team_and_sees_it_in_the_history(page):
    load_demo_portfolio()
    sign_in(page, "lead")
    page.wait_for_url("**/")
    page.goto("/teams/support-automation/")
    page.get_by_role("link", name="Edit team").click()
    page.get_by_label("Description").fill("Chatbots, agent assist and the support knowledge base.")
    page.get_by_role("button", name="Save team").click()
    page.wait_for_url("**/teams/support-automation/")
    assert "Team “Support Automation” saved." in page.get_by_role("status").inner_text()
    page.get_by_role("link", name="History").click()
    row = page.locator("tbody tr").first
    assert "lead" in row.inner_text() and "support knowledge base" in row.inner_text()


def test_an_auditor_filters_the_audit_log_and_verifies_the_chain(page):
    load_demo_portfolio()
    sign_in(page, "auditor")
    page.wait_for_url("**/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").select_option("login")
    page.get_by_role("button", name="Filter").click()
    assert page.locator("tbody tr").count() >= 1
    page.get_by_role("button", name="Verify now").click()
    page.wait_for_url("**/jobs/*/")
    assert page.get_by_text("Succeeded").first.is_visible()
    assert "audit trail intact" in page.locator(".log").inner_text().lower()


def test_a_team_lead_files_a_use_case_and_is_warned_of_a_duplicate(page):
    load_demo_portfolio()
    sign_in(page, "lead")
    page.wait_for_url("**/")
    page.goto("/use-cases/new/")
    page.get_by_label("Name").fill("Support docs finder")
    page.get_by_label("Purpose").press_sequentially(
        "Agents search our internal documents and wiki pages in plain language.", delay=5
    )
    panel = page.locator("#similar")
    panel.get_by_role("heading", name="Similar use cases").wait_for()
    panel.get_by_text("Knowledge assistant").wait_for()
    assert "Shares:" in panel.inner_text()
    page.get_by_label("Accountable owner").select_option(label="Lena Lund (lead)")
    page.get_by_label("Kind of AI").select_option("generative")
    page.get_by_label("Data sensitivity").select_option("internal")
    page.get_by_role("button", name="Save as draft").click()
    page.wait_for_url("**/use-cases/UC-*/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Support docs finder")


def test_a_long_purpose_is_posted_to_the_similar_panel_without_the_rest_of_the_form(page):
    load_demo_portfolio()
    sign_in(page, "lead")
    page.wait_for_url("**/")
    page.goto("/use-cases/new/")
    page.get_by_label("Name").fill("Support docs finder")
    # Pasted, not typed: 8,000 characters, more than a URL carries through a proxy.
    page.get_by_label("Purpose").fill(
        "Agents search our internal documents and wiki pages in plain language. " * 110
    )

    with page.expect_request(lambda request: "/use-cases/similar/" in request.url) as asked:
        page.get_by_label("Purpose").press("End")
    request = asked.value
    response = request.response()

    assert request.method == "POST" and request.url.endswith("/use-cases/similar/")
    assert request.headers["x-csrftoken"]
    sent = request.post_data
    assert "purpose=" in sent and "csrfmiddlewaretoken" not in sent and "accountable_owner" not in sent
    assert response.status == 200
    page.locator("#similar").get_by_text("Knowledge assistant").wait_for()
