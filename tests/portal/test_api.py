"""The REST API: root, schema, docs, authentication, pagination, filtering, jobs."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from inventory.testing import TeamFactory
from portal.models import ApiToken, JobRun, TokenKind, TokenScope
from portal.services import api_token_create, api_token_revoke
from portal.testing.factories import JobRunFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_api_root_lists_the_endpoints(api, team_member):
    api.force_authenticate(team_member)
    body = api.get("/api/").json()
    assert {"jobs", "business-units", "teams"} <= set(body)


def test_anonymous_requests_are_refused_with_a_clear_message(api):
    response = api.get("/api/jobs/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_the_openapi_schema_is_served_and_generates_without_warnings(api, team_member, capsys):
    api.force_authenticate(team_member)
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/jobs/{id}/cancel/" in schema["paths"]
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_the_api_docs_are_served_locally_without_inline_script(client, team_member):
    client.force_login(team_member)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "http://" not in page.replace("http://testserver", "") and "https://" not in page
    assert "<script>" not in page  # the split view loads its initialiser as a file (CSP)


def test_lists_are_paginated_with_a_client_chosen_size(api, admin_user):
    for _ in range(7):
        JobRunFactory()
    api.force_authenticate(admin_user)
    body = api.get("/api/jobs/", {"page_size": 3}).json()
    assert body["count"] == 7
    assert len(body["results"]) == 3
    assert body["next"].endswith("page=2&page_size=3")


def test_lists_filter_search_and_order(api, admin_user):
    JobRunFactory(status="failed", label="Import FOCUS", task_name="costs.import_costs")
    JobRunFactory(status="succeeded", label="Prune")
    api.force_authenticate(admin_user)
    assert [r["label"] for r in api.get("/api/jobs/", {"status": "failed"}).json()["results"]] == [
        "Import FOCUS"
    ]
    assert [r["label"] for r in api.get("/api/jobs/", {"search": "prune"}).json()["results"]] == ["Prune"]
    ordered = api.get("/api/jobs/", {"ordering": "created_at"}).json()["results"]
    assert [r["label"] for r in ordered] == ["Import FOCUS", "Prune"]


def test_an_invalid_filter_value_is_a_clear_400(api, admin_user):
    api.force_authenticate(admin_user)
    response = api.get("/api/jobs/", {"status": "exploded"})
    assert response.status_code == 400
    assert "status" in response.json()


def test_job_detail_includes_the_log(api, admin_user, run_job):
    from portal.tasks import prune_job_runs

    run = run_job(prune_job_runs, actor=admin_user)
    api.force_authenticate(admin_user)
    body = api.get(f"/api/jobs/{run.pk}/").json()
    assert body["status"] == "succeeded"
    assert body["progress"] == 100
    assert body["log"][-1]["message"] == "Deleted 0 job run(s)."


def test_jobs_api_obeys_the_same_visibility_as_the_pages(api, team_member, admin_user):
    mine = JobRunFactory(actor=team_member)
    theirs = JobRunFactory(actor=admin_user)
    api.force_authenticate(team_member)
    assert [r["id"] for r in api.get("/api/jobs/").json()["results"]] == [mine.pk]
    assert api.get(f"/api/jobs/{theirs.pk}/").status_code == 404
    assert api.post(f"/api/jobs/{theirs.pk}/cancel/").status_code == 404


def test_cancel_through_the_api(api, team_member):
    run = JobRunFactory(actor=team_member, status="running")
    api.force_authenticate(team_member)
    response = api.post(f"/api/jobs/{run.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = api.post(f"/api/jobs/{run.pk}/cancel/")
    assert again.status_code == 400
    assert "already finished" in again.json()["status"][0]


def test_admins_start_on_demand_jobs_through_the_api(
    api, admin_user, team_lead, django_capture_on_commit_callbacks
):
    api.force_authenticate(team_lead)
    assert api.post("/api/jobs/start/", {"task": "portal.prune_job_runs"}).status_code == 403
    api.force_authenticate(admin_user)
    assert api.post("/api/jobs/start/", {"task": "nope"}).json() == {
        "task": ["No on-demand job has this name."]
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/jobs/start/", {"task": "portal.prune_job_runs"})
    assert response.status_code == 202
    assert JobRun.objects.get().channel == "api"
    definitions = api.get("/api/jobs/definitions/").json()
    assert {"name": "portal.prune_job_runs", "on_demand": True}.items() <= next(
        d for d in definitions if d["name"] == "portal.prune_job_runs"
    ).items()


def test_me_reports_roles_and_teams(api, team_lead):
    team = TeamFactory(lead=team_lead)
    api.force_authenticate(team_lead)
    body = api.get("/api/me/").json()
    assert body["username"] == team_lead.username
    assert body["roles"] == ["team-lead", "team-member"]
    assert body["teams"] == [team.slug]


#
# Tokens
#


def test_a_token_authenticates_and_records_its_last_use(team_member):
    token, key = api_token_create(user=team_member, name="laptop", scopes=[TokenScope.READ])
    assert key.startswith("pyl_")
    assert token.key_hash != key and key not in token.key_prefix + token.key_hash
    response = token_client(key).get("/api/me/")
    assert response.status_code == 200
    assert response.json()["username"] == team_member.username
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_bearer_is_accepted_too(team_member):
    _, key = api_token_create(user=team_member, name="ci", scopes=[TokenScope.READ])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/me/").status_code == 200


@pytest.mark.parametrize("problem", ["unknown", "revoked", "expired", "inactive user"])
def test_unusable_tokens_are_refused_with_one_message(team_member, problem):
    token, key = api_token_create(user=team_member, name="t", scopes=[TokenScope.READ])
    if problem == "unknown":
        key = key[:-4] + "AAAA"
    elif problem == "revoked":
        api_token_revoke(token=token)
    elif problem == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        team_member.is_active = False
        team_member.save()
    response = token_client(key).get("/api/me/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid, expired or revoked token."}


def test_a_read_token_may_not_write(team_member):
    run = JobRunFactory(actor=team_member, status="running")
    _, key = api_token_create(user=team_member, name="reader", scopes=[TokenScope.READ])
    response = token_client(key).post(f"/api/jobs/{run.pk}/cancel/")
    assert response.status_code == 403
    assert response.json()["detail"] == "This token does not carry the scope this request needs."
    _, write_key = api_token_create(
        user=team_member, name="writer", scopes=[TokenScope.READ, TokenScope.WRITE]
    )
    assert token_client(write_key).post(f"/api/jobs/{run.pk}/cancel/").status_code == 200


def test_token_rules_are_enforced_when_creating(team_member):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Personal tokens carry only"):
        api_token_create(user=team_member, name="x", scopes=[TokenScope.TELEMETRY_INGEST])
    with pytest.raises(ValidationError, match="Unknown scope"):
        api_token_create(user=team_member, name="x", scopes=["root"])
    with pytest.raises(ValidationError, match="in the future"):
        api_token_create(user=team_member, name="x", scopes=["read"], expires_at=timezone.now())
    token, _ = api_token_create(
        user=team_member, name="agent", scopes=[TokenScope.TELEMETRY_INGEST], kind=TokenKind.MACHINE
    )
    assert token.scopes == ["telemetry:ingest"]


def test_create_api_token_command_prints_the_key_once(team_member, capsys):
    call_command(
        "create_api_token", team_member.username, "--name", "cli", "--scope", "read", "--scope", "write"
    )
    out = capsys.readouterr().out
    key = out.splitlines()[1]
    token = ApiToken.objects.get(name="cli")
    assert token.scopes == ["read", "write"]
    assert token_client(key).get("/api/me/").status_code == 200
    assert key not in str(ApiToken.objects.values_list())


def test_create_api_token_command_names_what_is_wrong(team_member):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody", "--name", "x")
    with pytest.raises(CommandError, match="Personal tokens carry only"):
        call_command("create_api_token", team_member.username, "--name", "x", "--scope", "signals:ingest")


def test_an_unexpected_error_is_json_without_a_trace(api, admin_user, monkeypatch):
    from portal.api import me

    def broken(self, request):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(me.MeView, "get", broken)
    api.force_authenticate(admin_user)
    api.raise_request_exception = False
    response = api.get(reverse("api:me"))
    assert response.status_code == 500
    body = response.json()
    assert body["detail"] == "Propylon hit an internal error. It has been logged."
    assert "secret" not in response.content.decode()
    assert body["request_id"] == response["X-Request-ID"]
