"""Deployment targets: the services' rules, secrets (encrypted, write-only, rotatable), the
pages (test-event button for every kind), the API and the environments pages."""

import json

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from inventory.models import Environment, Release
from operations import secrets
from operations.models import Deployment, DeploymentTarget
from operations.services.targets import target_create, target_delete, target_update
from operations.testing import FakeTarget
from portal.models import AuditEntry
from tests.inventory.matrix_fixtures import build_context, file_for_own_team

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-token-that-must-never-show"
OLD_KEY, NEW_KEY, OTHER_KEY = (Fernet.generate_key().decode() for _ in range(3))

OPTIONS = {
    "webhook": {},
    "github_actions": {"repository": "acme/fraud-model", "workflow": "deploy.yml"},
    "gitlab_pipeline": {"project": "1234"},
    "argocd": {"application": "fraud-model"},
}


@pytest.fixture
def environment():
    return Environment.objects.create(slug="staging", name="Staging", kind="staging")


def make_target(environment, *, kind="github_actions", url="https://api.github.com", **fields):
    arguments = {"name": f"{kind} {environment.slug}", "slug": f"{kind.replace('_', '-')}-{environment.slug}"}
    arguments.update(kind=kind, environment=environment, url=url, options=OPTIONS[kind], secret=SECRET)
    return target_create(**{**arguments, **fields})


def assert_nowhere(*texts: str, content: str = "") -> None:
    """Neither the plaintext nor the ciphertext is in the audit trail (or the given content)."""
    trail = json.dumps(list(AuditEntry.objects.values("changes", "message", "extra")))
    for text in texts:
        assert text not in trail
        assert text not in content


#
# Services
#


def test_the_secret_is_encrypted_at_rest(environment):
    target = make_target(environment)
    stored = DeploymentTarget.objects.values_list("secret_encrypted", flat=True).get(pk=target.pk)
    assert stored and SECRET not in stored
    assert secrets.decrypt(stored) == SECRET
    assert target.secret_set_at is not None
    assert_nowhere(SECRET, stored)


def test_a_secret_left_out_is_kept_an_empty_one_removed(environment):
    target = make_target(environment, callback_secret="callback-secret")
    stored = target.secret_encrypted
    target = target_update(target=target, name="Renamed", secret=None)
    assert target.secret_encrypted == stored
    target = target_update(target=target, enabled=False, secret="")
    assert target.secret_encrypted == "" and target.secret_set_at is None
    assert secrets.decrypt(target.callback_secret_encrypted) == "callback-secret"
    target = target_update(target=target, secret="new-one", enabled=True)
    assert secrets.decrypt(target.secret_encrypted) == "new-one"
    assert_nowhere(SECRET, "new-one", "callback-secret", stored, target.secret_encrypted)
    # The trail says the secret changed, without its value.
    changes = [
        entry.changes for entry in AuditEntry.objects.filter(object_id=str(target.pk), action="update")
    ]
    assert any("secret_encrypted" in change for change in changes)


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("github_actions", {"workflow": "deploy.yml"}, "Option “repository” is required"),
        ("github_actions", {"repository": "acme", "workflow": "deploy.yml"}, "Option “repository” must be"),
        ("github_actions", {"repository": "acme/x", "workflow": "deploy.sh"}, "Option “workflow” must be"),
        ("gitlab_pipeline", {}, "Option “project” is required"),
        ("argocd", {"application": "Fraud Model"}, "Option “application” must be"),
        ("argocd", {"application": "fraud", "prune": "yes"}, "Option “prune” must be true or false"),
        ("webhook", {"repository": "acme/x"}, "Option “repository” means nothing to a Generic webhook"),
    ],
)
def test_options_are_checked_per_kind(environment, kind, options, message):
    with pytest.raises(ValidationError) as raised:
        make_target(environment, kind=kind, options=options, url="https://deploy.example.com/")
    assert any(message in text for text in raised.value.message_dict["options"])


def test_the_url_must_be_http_or_https(environment):
    with pytest.raises(ValidationError) as raised:
        make_target(environment, url="ftp://deploy.example.com/")
    assert "http:// or https://" in " ".join(raised.value.message_dict["url"])


@pytest.mark.parametrize(
    "url", ["https://bot:ghp-token@api.github.com", "https://gitlab.example.com/?private_token=x"]
)
def test_credentials_stay_out_of_the_url(environment, url):
    with pytest.raises(ValidationError) as raised:
        make_target(environment, url=url)
    assert "put the token in the secret field" in " ".join(raised.value.message_dict["url"])
    assert not AuditEntry.objects.filter(message__contains="ghp-token").exists()


def test_an_enabled_target_needs_its_secret(environment):
    with pytest.raises(ValidationError) as raised:
        make_target(environment, kind="gitlab_pipeline", secret="", url="https://gitlab.example.com")
    assert "needs its trigger token" in raised.value.message_dict["secret"][0]
    assert make_target(environment, secret="", enabled=False).enabled is False


def test_one_enabled_default_per_environment_says_which_is_in_the_way(environment):
    make_target(environment, name="GitHub staging")
    with pytest.raises(ValidationError) as raised:
        make_target(environment, kind="argocd", url="https://argocd.example.com")
    assert "“GitHub staging” already deploys every use case (the default) in Staging" in str(raised.value)
    assert make_target(environment, kind="argocd", url="https://argocd.example.com", enabled=False)


def test_a_used_target_is_not_deleted_but_may_be_disabled(environment, admin_user):
    target = make_target(environment)
    use_case = file_for_own_team(build_context())
    release = Release.objects.create(use_case=use_case, version="1.0", code_ref="abc123")
    Deployment.objects.create(use_case=use_case, release=release, environment=environment, target=target)
    with pytest.raises(ValidationError) as raised:
        target_delete(target=target)
    assert "1 deployment went through it" in str(raised.value) and "Disable it instead" in str(raised.value)
    assert target_update(target=target, enabled=False).enabled is False
    unused = make_target(environment, kind="argocd", url="https://argocd.example.com", slug="unused")
    target_delete(target=unused)
    assert not DeploymentTarget.objects.filter(pk=unused.pk).exists()


#
# Key rotation
#


def test_rotation_with_two_keys(environment, capsys):
    with override_settings(PROPYLON_SECRET_KEYS=[OLD_KEY]):
        target = make_target(environment, callback_secret="callback-secret")
    with override_settings(PROPYLON_SECRET_KEYS=[NEW_KEY, OLD_KEY]):
        call_command("rotate_secrets")
        assert "Re-encrypted 2 secrets" in capsys.readouterr().out
    with override_settings(PROPYLON_SECRET_KEYS=[NEW_KEY]):  # the old key is gone: still readable
        target.refresh_from_db()
        assert secrets.decrypt(target.secret_encrypted) == SECRET
        assert secrets.decrypt(target.callback_secret_encrypted) == "callback-secret"
    assert_nowhere(SECRET, "callback-secret")


def test_an_unknown_key_gives_a_clear_message(environment):
    with override_settings(PROPYLON_SECRET_KEYS=[OLD_KEY]):
        target = make_target(environment)
    with override_settings(PROPYLON_SECRET_KEYS=[OTHER_KEY]):
        with pytest.raises(secrets.SecretUnreadable, match="the key that encrypted it was removed"):
            secrets.decrypt(target.secret_encrypted)
        with pytest.raises(
            CommandError, match="cannot be decrypted with the configured PROPYLON_SECRET_KEYS"
        ):
            call_command("rotate_secrets")


def test_a_test_event_with_an_unreadable_secret_says_why(environment, admin_user, client):
    with override_settings(PROPYLON_SECRET_KEYS=[OLD_KEY]):
        target = make_target(environment)
    client.force_login(admin_user)
    with override_settings(PROPYLON_SECRET_KEYS=[OTHER_KEY]):
        response = client.post(f"/deployment-targets/{target.slug}/test/", follow=True)
    assert "the key that encrypted it was removed" in response.content.decode()
    target.refresh_from_db()
    assert target.last_test_result.startswith("Failed: A stored secret cannot be decrypted")


#
# Pages
#


def test_admins_create_a_target_on_the_page_and_never_see_the_secret_again(environment, admin_user, client):
    client.force_login(admin_user)
    form = {"name": "Argo staging", "slug": "argo-staging", "kind": "argocd", "environment": environment.pk,
            "use_case": "", "url": "https://argocd.example.com", "options": '{"application": "fraud-model"}',
            "timeout_seconds": "10", "enabled": "on", "secret": SECRET, "callback_secret": "", "read_token": ""}  # fmt: skip
    response = client.post("/deployment-targets/new/", form)
    assert response.status_code == 302, response.content.decode()
    target = DeploymentTarget.objects.get(slug="argo-staging")
    for url in (
        "/deployment-targets/",
        "/deployment-targets/argo-staging/",
        "/deployment-targets/argo-staging/edit/",
    ):
        page = client.get(url).content.decode()
        assert SECRET not in page and target.secret_encrypted not in page
    edit = client.get("/deployment-targets/argo-staging/edit/").content.decode()
    assert "A value is stored (never shown)" in edit and "Forget the stored secret or token" in edit
    # Saving with the secret field empty keeps it; the forget box removes it.
    response = client.post(
        "/deployment-targets/argo-staging/edit/", {**form, "secret": "", "name": "Argo (staging)"}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert secrets.decrypt(target.secret_encrypted) == SECRET
    response = client.post(
        "/deployment-targets/argo-staging/edit/", {**form, "secret": "", "forget_secret": "on", "enabled": ""}
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.secret_encrypted == ""
    assert_nowhere(SECRET)


def test_the_page_shows_the_services_messages_on_the_form(environment, admin_user, client):
    client.force_login(admin_user)
    form = {"name": "GitHub", "slug": "github", "kind": "github_actions", "environment": environment.pk,
            "url": "https://api.github.com", "options": '{"workflow": "deploy.yml"}', "timeout_seconds": "10",
            "enabled": "on", "secret": ""}  # fmt: skip
    page = client.post("/deployment-targets/new/", form).content.decode()
    assert "Option “repository” is required for a GitHub Actions workflow_dispatch target" in page
    assert "needs its token" in page


ANSWERS = {
    "github_actions": (200, {"name": "Deploy", "state": "active"}, "GitHub workflow “Deploy”"),
    "gitlab_pipeline": (200, {"path_with_namespace": "acme/fraud"}, "GitLab project acme/fraud is reachable"),
    "argocd": (
        200,
        {"status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}},
        "is reachable",
    ),
}


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_the_test_event_button_for_each_kind(environment, admin_user, client, kind):
    status, body, expected = ANSWERS[kind]
    with FakeTarget() as fake:
        fake.respond(status, body)
        target = make_target(environment, kind=kind, url=fake.url, read_token="read-token")
        client.force_login(admin_user)
        detail = client.get(target.get_absolute_url()).content.decode()
        assert "Send a test event" in detail
        response = client.post(f"/deployment-targets/{target.slug}/test/", follow=True)
    page = response.content.decode()
    assert expected in page
    assert len(fake.requests) == 1
    target.refresh_from_db()
    assert target.last_test_at is not None and target.last_test_result.startswith("OK: ")
    entry = AuditEntry.objects.filter(action="deployment", object_id=str(target.pk)).get()
    assert "Test event to" in entry.message and entry.extra["ok"] is True
    assert_nowhere(SECRET, "read-token", content=page)


def test_a_failing_test_event_is_shown_as_an_error_without_the_secret(environment, admin_user, client):
    with FakeTarget() as fake:
        fake.respond(401, {"message": f"Bad credentials {SECRET}"})
        target = make_target(environment, url=fake.url)
        client.force_login(admin_user)
        page = client.post(f"/deployment-targets/{target.slug}/test/", follow=True).content.decode()
    assert "failed" in page and "401" in page
    assert_nowhere(SECRET, content=page)


def test_the_delete_page_refuses_a_used_target_and_offers_disabling(environment, admin_user, client):
    target = make_target(environment)
    use_case = file_for_own_team(build_context())
    release = Release.objects.create(use_case=use_case, version="1.0", code_ref="abc123")
    Deployment.objects.create(use_case=use_case, release=release, environment=environment, target=target)
    client.force_login(admin_user)
    detail = client.get(target.get_absolute_url()).content.decode()
    assert "disable it instead" in detail and f"/deployment-targets/{target.slug}/delete/" not in detail
    page = client.post(f"/deployment-targets/{target.slug}/delete/", follow=True).content.decode()
    assert "cannot be deleted" in page
    client.post(f"/deployment-targets/{target.slug}/toggle/")
    target.refresh_from_db()
    assert target.enabled is False


def test_the_nav_leads_target_readers_to_the_targets(admin_user, auditor, team_member, client):
    for person, sees in ((admin_user, True), (auditor, True), (team_member, False)):
        client.force_login(person)
        assert ('href="/deployment-targets/"' in client.get("/").content.decode()) is sees
    client.force_login(team_member)
    assert client.get("/deployment-targets/").status_code == 403


#
# API
#


def test_the_api_takes_secrets_and_never_returns_them(environment, admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    payload = {"name": "GitLab staging", "slug": "gitlab-staging", "kind": "gitlab_pipeline",
               "environment": "staging", "url": "https://gitlab.example.com",
               "options": {"project": "acme/fraud"}, "secret": SECRET, "read_token": "read-token"}  # fmt: skip
    response = api.post("/api/deployment-targets/", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (
        body["has_secret"] is True and body["has_read_token"] is True and body["has_callback_secret"] is False
    )
    assert not {"secret", "read_token", "callback_secret", "secret_encrypted"} & set(body)
    target = DeploymentTarget.objects.get(slug="gitlab-staging")
    for url in ("/api/deployment-targets/", "/api/deployment-targets/gitlab-staging/"):
        text = api.get(url).content.decode()
        assert SECRET not in text and target.secret_encrypted not in text and "read-token" not in text
    # A change without the secret keeps it; an empty string removes the read token.
    response = api.patch(
        "/api/deployment-targets/gitlab-staging/", {"timeout_seconds": 20, "read_token": ""}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["has_secret"] is True and response.json()["has_read_token"] is False
    # The service's rules answer as field errors.
    response = api.patch(
        "/api/deployment-targets/gitlab-staging/", {"options": {"project": ""}}, format="json"
    )
    assert response.status_code == 400
    assert "Option “project” is required" in response.json()["options"][0]
    # The test action: a trigger token alone cannot be checked without starting a pipeline.
    response = api.post("/api/deployment-targets/gitlab-staging/test/")
    assert response.status_code == 200
    assert response.json()["ok"] is True and "read token" in response.json()["message"]
    assert_nowhere(SECRET, "read-token", target.secret_encrypted)


def test_the_api_refuses_to_delete_a_used_target(environment, admin_user):
    target = make_target(environment)
    use_case = file_for_own_team(build_context())
    release = Release.objects.create(use_case=use_case, version="1.0", code_ref="abc123")
    Deployment.objects.create(use_case=use_case, release=release, environment=environment, target=target)
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.delete(f"/api/deployment-targets/{target.slug}/")
    assert response.status_code == 400
    assert "Disable it instead" in json.dumps(response.json(), ensure_ascii=False)


#
# Environments (inventory's pages, in the same settings area)
#


def test_admins_manage_environments_on_pages(admin_user, team_member, client):
    client.force_login(admin_user)
    assert "Environments" in client.get("/deployment-targets/").content.decode()
    response = client.post(
        "/environments/new/", {"name": "Production EU", "slug": "prod-eu", "kind": "production"}
    )
    assert response.status_code == 302
    response = client.post(
        "/environments/prod-eu/edit/", {"name": "Production (EU)", "slug": "prod-eu", "kind": "production"}
    )
    assert response.status_code == 302
    assert Environment.objects.get(slug="prod-eu").name == "Production (EU)"
    page = client.get("/environments/").content.decode()
    assert "Production (EU)" in page and "/environments/prod-eu/edit/" in page
    client.force_login(team_member)
    assert "/environments/prod-eu/edit/" not in client.get("/environments/").content.decode()
    assert client.get("/environments/new/").status_code == 403
    assert (
        client.post(
            "/environments/prod-eu/edit/", {"name": "x", "slug": "prod-eu", "kind": "staging"}
        ).status_code
        == 403
    )


def test_a_production_environment_stays_production(admin_user, client):
    Environment.objects.create(slug="prod", name="Production", kind="production")
    client.force_login(admin_user)
    page = client.post("/environments/prod/edit/", {"name": "Production", "slug": "prod", "kind": "staging"})
    assert "is a production environment and stays one" in page.content.decode()
    assert Environment.objects.get(slug="prod").kind == "production"
