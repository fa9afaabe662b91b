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


def test_repeated_failures_lock_the_account_for_a_while(client, team_lead, settings):
    settings.PROPYLON_LOGIN_MAX_FAILURES_PER_USERNAME = 3
    for _ in range(3):
        client.post(reverse("login"), {"username": team_lead.username, "password": "wrong"})
    response = client.post(
        reverse("login"), {"username": team_lead.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another account from another address is unaffected.
    other = client.post(
        reverse("login"), {"username": "someone-else", "password": "x"}, REMOTE_ADDR="10.0.0.9"
    ).content.decode()
    assert "Too many failed" not in other


def test_failures_from_one_address_lock_that_address(client, team_lead, settings):
    settings.PROPYLON_LOGIN_MAX_FAILURES_PER_ADDRESS = 4
    for index in range(4):
        client.post(reverse("login"), {"username": f"guess{index}", "password": "x"}, REMOTE_ADDR="10.0.0.7")
    blocked = client.post(
        reverse("login"),
        {"username": team_lead.username, "password": "correct-horse-battery"},
        REMOTE_ADDR="10.0.0.7",
    )
    assert "Too many failed sign-in attempts" in blocked.content.decode()
    allowed = client.post(
        reverse("login"),
        {"username": team_lead.username, "password": "correct-horse-battery"},
        REMOTE_ADDR="10.0.0.8",
    )
    assert allowed.status_code == 302


def test_the_lock_expires_with_the_window(client, team_lead, settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from portal import throttling

    settings.PROPYLON_LOGIN_MAX_FAILURES_PER_USERNAME = 2
    for _ in range(2):
        client.post(reverse("login"), {"username": team_lead.username, "password": "wrong"})
    later = timezone.now() + timedelta(minutes=settings.PROPYLON_LOGIN_LOCKOUT_MINUTES + 1)
    monkeypatch.setattr(throttling.timezone, "now", lambda: later)
    response = client.post(
        reverse("login"), {"username": team_lead.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302


def test_forwarded_for_is_used_only_when_configured(client, team_lead, settings):
    from portal.models import AuditEntry

    client.post(
        reverse("login"), {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="1.2.3.4, 10.1.1.1"
    )
    assert AuditEntry.objects.get(action="login_failed").extra["ip"] == "127.0.0.1"
    settings.PROPYLON_USE_X_FORWARDED_FOR = True
    client.post(
        reverse("login"), {"username": "x", "password": "y"}, HTTP_X_FORWARDED_FOR="1.2.3.4, 10.1.1.1"
    )
    assert AuditEntry.objects.order_by("id").last().extra["ip"] == "10.1.1.1"


def test_api_tokens_expire_by_default(team_member):
    api = APIClient()
    api.force_authenticate(team_member)
    created = api.post("/api/tokens/", {"name": "ci", "scopes": ["read"]}, format="json").json()
    assert created["expires_at"] is not None
