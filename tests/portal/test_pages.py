"""The base UI: sign-in, navigation by role, home, friendly error pages, security headers."""

import pytest
from django.urls import reverse

from inventory.testing import TeamFactory
from portal.testing.factories import JobRunFactory

pytestmark = pytest.mark.django_db


def test_sign_in_and_out(client, team_lead):
    response = client.post(
        reverse("login"), {"username": team_lead.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert client.get(reverse("home")).status_code == 302


def test_a_wrong_password_gets_a_clear_message_and_keeps_the_username(client, team_lead):
    response = client.post(reverse("login"), {"username": team_lead.username, "password": "nope"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please enter a correct username and password" in page
    assert f'value="{team_lead.username}"' in page


def test_pages_need_a_login(client):
    for name in ("home", "inventory:team-list", "inventory:business-unit-list", "jobs:list"):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login"))


def test_navigation_adapts_to_roles(login, admin_user, team_member):
    admin_nav = [item.label for item in login(admin_user).get(reverse("home")).context["nav_items"]]
    member_nav = [item.label for item in login(team_member).get(reverse("home")).context["nav_items"]]
    assert "Admin" in admin_nav
    assert "Admin" not in member_nav
    assert {"Home", "Teams", "Jobs", "API"} <= set(member_nav)


def test_the_current_section_is_marked_for_screen_readers(login, team_member):
    page = login(team_member).get(reverse("inventory:team-list")).content.decode()
    assert f'<a href="{reverse("inventory:team-list")}" aria-current="page">Teams</a>' in page


def test_home_shows_my_teams_and_my_recent_jobs(login, team_lead, admin_user):
    team = TeamFactory(name="Support Automation", lead=team_lead)
    TeamFactory(name="Someone Else's Team")
    JobRunFactory(actor=team_lead, actor_label="lena", label="Prune old job runs")
    JobRunFactory(actor=admin_user, label="Admin only job")
    response = login(team_lead).get(reverse("home"))
    assert list(response.context["my_teams"]) == [team]
    page = response.content.decode()
    assert "Support Automation" in page
    assert "Prune old job runs" in page
    assert "Admin only job" not in page
    assert "Team lead" in page  # the roles line


def test_unknown_pages_get_the_friendly_404(login, team_member):
    response = login(team_member).get("/no/such/page/")
    assert response.status_code == 404
    assert b"Nothing here" in response.content
    assert b"Back to home" in response.content


@pytest.mark.urls("tests.portal.urls_for_tests")
def test_an_unexpected_error_gets_the_friendly_500_without_a_trace(client, team_member):
    client.raise_request_exception = False
    client.force_login(team_member)
    response = client.get("/explode/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert "secret internals" not in page and "Traceback" not in page


def test_every_response_carries_the_security_headers(client):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response["Permissions-Policy"]
    assert len(response["X-Request-ID"]) == 36


def test_our_pages_run_no_inline_script(login, admin_user):
    client = login(admin_user)
    for name in ("home", "inventory:team-list", "jobs:list"):
        page = client.get(reverse(name)).content.decode()
        assert "<script>" not in page and "onclick=" not in page, name


def test_htmx_comes_from_the_installed_package_and_sends_the_csrf_token(login, team_member):
    page = login(team_member).get(reverse("home")).content.decode()
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in page
    assert 'hx-headers=\'{"X-CSRFToken": "' in page


def test_static_assets_are_served_without_a_cdn(client):
    from django.contrib.staticfiles import finders

    assert finders.find("django_htmx/htmx-2.min.js")
    assert finders.find("portal/css/propylon.css")
    with open(finders.find("portal/css/propylon.css")) as stylesheet:
        css = stylesheet.read()
    assert "http" not in css


def test_a_refused_page_logs_one_line_without_a_traceback(client, team_member, login):
    """PermissionDenied is routine; the server log gets one line, not a traceback (issue 10, #26)."""
    import logging

    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Collect()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    request_logger = logging.getLogger("django.request")
    request_logger.addHandler(handler)
    try:
        login(team_member)
        response = client.get(reverse("portal:audit-log"))
    finally:
        request_logger.removeHandler(handler)
    assert response.status_code == 403
    assert records == ["WARNING django.request: Forbidden (Permission denied): /audit/"]
