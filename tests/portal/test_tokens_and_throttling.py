"""API tokens in the UI and API, and sign-in throttling."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from portal.models import ApiToken

pytestmark = pytest.mark.django_db


def test_a_person_creates_a_token_sees_it_once_and_revokes_it(login, team_member):
    client = login(team_member)
    response = client.post(
        reverse("portal:tokens"), {"name": "scripts", "scopes": ["read"], "expires_in_days": 30}
    )
    key = response.context["new_key"]
    assert key.startswith("pyl_")
    token = ApiToken.objects.get(name="scripts")
    assert token.user == team_member and token.expires_at is not None
    again = client.get(reverse("portal:tokens")).content.decode()
    assert key not in again and token.key_prefix in again
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/me/").status_code == 200
    client.post(reverse("portal:token-revoke", args=[token.pk]))
    assert api.get("/api/me/").status_code == 401


def test_people_cannot_mint_machine_scopes_but_admins_can(login, team_member, admin_user, make_user):
    response = login(team_member).post(
        reverse("portal:tokens"), {"name": "x", "scopes": ["telemetry:ingest"], "expires_in_days": 30}
    )
    assert "telemetry:ingest" in str(response.context["form"].errors["scopes"])
    agent = make_user("gpu-agent")
    response = login(admin_user).post(
        reverse("portal:tokens"),
        {
            "name": "agent",
            "scopes": ["telemetry:ingest"],
            "kind": "machine",
            "username": "gpu-agent",
            "expires_in_days": 365,
        },
    )
    token = ApiToken.objects.get(name="agent")
    assert (token.user, token.kind, token.scopes, token.created_by) == (
        agent,
        "machine",
        ["telemetry:ingest"],
        admin_user,
    )
    assert response.context["new_key"]


def test_auditors_get_read_only_tokens(login, auditor):
    client = login(auditor)
    response = client.post(
        reverse("portal:tokens"), {"name": "w", "scopes": ["read", "write"], "expires_in_days": 30}
    )
    assert "only the read scope" in str(response.context["form"].errors)
    response = client.post(reverse("portal:tokens"), {"name": "r", "scopes": ["read"], "expires_in_days": 30})
    assert response.context["new_key"]


def test_tokens_through_the_api(team_member, admin_user):
    api = APIClient()
    api.force_authenticate(team_member)
    created = api.post("/api/tokens/", {"name": "ci", "scopes": ["read"]}, format="json")
    assert created.status_code == 201
    assert created.json()["key"].startswith("pyl_")
    assert "key" not in api.get(f"/api/tokens/{created.json()['id']}/").json()
    refused = api.post("/api/tokens/", {"name": "m", "scopes": ["read"], "kind": "machine"}, format="json")
    assert refused.status_code == 403
    assert api.delete(f"/api/tokens/{created.json()['id']}/").status_code == 204
    assert ApiToken.objects.get(name="ci").revoked_at is not None


def _sign_in(client, username, password, address, **headers):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def test_failures_delay_that_account_from_that_address_only(client, make_user, settings):
    """An attacker failing against `cto` from one address slows only that pair: `cto` still signs
    in from another address (issue 10, #34; before, five failures locked the account)."""
    cto = make_user("cto")
    cto.set_password("correct-horse-battery")
    cto.save()
    settings.PROPYLON_LOGIN_FAILURES_BEFORE_DELAY = 3
    for _ in range(10):
        _sign_in(client, "cto", "guess", "203.0.113.66")
    blocked = _sign_in(client, "cto", "correct-horse-battery", "203.0.113.66")
    assert "Too many failed sign-in attempts from this address" in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    # The real CTO, elsewhere, is not locked out.
    assert _sign_in(client, "cto", "correct-horse-battery", "198.51.100.7").status_code == 302


def test_the_delay_doubles_with_each_failure_and_is_capped(settings):
    from datetime import timedelta

    from portal.throttling import pair_delay

    settings.PROPYLON_LOGIN_FAILURES_BEFORE_DELAY = 5
    settings.PROPYLON_LOGIN_DELAY_SECONDS = 30
    settings.PROPYLON_LOGIN_MAX_DELAY_MINUTES = 15
    assert [pair_delay(n).total_seconds() for n in range(4, 9)] == [0, 30, 60, 120, 240]
    assert pair_delay(10_000) == timedelta(minutes=15)


def test_the_delay_ends_after_it_has_passed(client, team_lead, settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from portal import throttling

    settings.PROPYLON_LOGIN_FAILURES_BEFORE_DELAY = 2
    settings.PROPYLON_LOGIN_DELAY_SECONDS = 30
    for _ in range(3):
        _sign_in(client, team_lead.username, "wrong", "10.0.0.5")
    # Three failures with two free: the delay is 60 seconds from the last one.
    assert (
        "Try again in"
        in _sign_in(client, team_lead.username, "correct-horse-battery", "10.0.0.5").content.decode()
    )
    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(throttling.timezone, "now", lambda: later)
    assert _sign_in(client, team_lead.username, "correct-horse-battery", "10.0.0.5").status_code == 302


def test_failures_from_one_address_across_accounts_stop_that_address(client, team_lead, settings):
    settings.PROPYLON_LOGIN_MAX_FAILURES_PER_ADDRESS = 4
    for index in range(4):
        _sign_in(client, f"guess{index}", "x", "10.0.0.7")
    blocked = _sign_in(client, team_lead.username, "correct-horse-battery", "10.0.0.7")
    assert "Too many failed sign-in attempts" in blocked.content.decode()
    assert _sign_in(client, team_lead.username, "correct-horse-battery", "10.0.0.8").status_code == 302


def test_forwarded_for_from_an_untrusted_peer_is_ignored(client, settings):
    """Someone reaching gunicorn directly cannot choose the address the throttle counts."""
    import ipaddress

    from portal.models import AuditEntry

    # A deployment behind a proxy (the old switch said "believe X-Forwarded-For" for everyone).
    settings.PROPYLON_USE_X_FORWARDED_FOR = True
    settings.PROPYLON_TRUSTED_PROXIES = (ipaddress.ip_network("10.9.0.0/16"),)
    _sign_in(client, "x", "y", "203.0.113.66", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert AuditEntry.objects.get(action="login_failed").extra["ip"] == "203.0.113.66"


def test_forwarded_for_from_a_trusted_proxy_gives_the_right_most_untrusted_address(client, settings):
    import ipaddress

    from portal.models import AuditEntry

    settings.PROPYLON_TRUSTED_PROXIES = (ipaddress.ip_network("10.9.0.0/16"),)
    # The client claimed 1.2.3.4; the edge proxy (10.9.0.2) appended the real client 198.51.100.3,
    # the inner proxy 10.9.0.1 appended the edge proxy and connected to gunicorn.
    _sign_in(client, "x", "y", "10.9.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.3, 10.9.0.2")
    assert AuditEntry.objects.order_by("id").last().extra["ip"] == "198.51.100.3"
    # A spoofed, unparsable entry next to the proxy: the proxy is the last address vouched for.
    _sign_in(client, "x", "y", "10.9.0.1", HTTP_X_FORWARDED_FOR="not-an-address")
    assert AuditEntry.objects.order_by("id").last().extra["ip"] == "10.9.0.1"


def test_trusted_proxies_setting_names_a_bad_value(tmp_path):
    from tests.portal.test_settings import propylon

    result = propylon("check", env={"PROPYLON_TRUSTED_PROXIES": "10.0.0.1,proxy.example"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "PROPYLON_TRUSTED_PROXIES: 'proxy.example' is not an IP address" in result.stderr


def test_api_tokens_expire_by_default(team_member):
    api = APIClient()
    api.force_authenticate(team_member)
    created = api.post("/api/tokens/", {"name": "ci", "scopes": ["read"]}, format="json").json()
    assert created["expires_at"] is not None
