"""Deployments through the pages, the API, the callback endpoint and `propylon deploy`: the same
service behind each, refusals shown as messages (never a 500), signatures checked."""

import json
import time

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from operations.choices import DeploymentStatusChoices as Status
from operations.models import Deployment
from operations.services import deployments as services
from operations.targets.base import signed_headers
from portal.roles import Role
from portal.testing.queries import assert_queries_do_not_grow
from tests.operations.deploy_fixtures import approve_for_production, signed_callback

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(deploy_setup):
    client = APIClient()
    client.force_authenticate(deploy_setup.lead)
    return client


def _tab(deploy_setup) -> str:
    return f"/use-cases/{deploy_setup.use_case.key}/?tab=deployments"


#
# Pages
#


def test_the_tab_shows_the_form_and_which_releases_production_takes(deploy_setup, login):
    approve_for_production(deploy_setup.use_case, deploy_setup.releases["2.0"])
    page = login(deploy_setup.lead).get(_tab(deploy_setup)).content.decode()
    assert "Deploy a release" in page and "nothing deployed" in page
    assert "is covered now" in page and '<span class="mono">2.0</span>' in page
    assert f"/use-cases/{deploy_setup.use_case.key}/deployments/new/" in page


def test_a_team_member_of_another_team_sees_no_form(deploy_setup, make_user, login):
    outsider = make_user("olga", Role.TEAM_LEAD, Role.TEAM_MEMBER)
    page = login(outsider).get(_tab(deploy_setup)).content.decode()
    assert "Deploy a release" not in page
    assert login(outsider).get(f"/use-cases/{deploy_setup.use_case.key}/deployments/new/").status_code == 403


def test_deploying_from_the_page_and_following_it(deploy_setup, login, django_capture_on_commit_callbacks):
    client = login(deploy_setup.lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/use-cases/{deploy_setup.use_case.key}/deployments/new/",
            {"release": deploy_setup.releases["1.0"].pk, "environment": deploy_setup.staging.pk},
        )
    deployment = Deployment.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/deployments/{deployment.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "<title>Deployment #" in page and "Dispatched to the target" in page
    assert f'hx-get="/deployments/{deployment.pk}/status/"' in page  # live while in flight
    assert client.get(f"/deployments/{deployment.pk}/status/").status_code == 200
    listing = client.get("/deployments/?environment=staging").content.decode()
    assert f"/deployments/{deployment.pk}/" in listing
    assert (
        f"/deployments/{deployment.pk}/"
        not in client.get("/deployments/?environment=production").content.decode()
    )
    assert 'href="/deployments/"' in listing  # in the navigation


def test_a_production_refusal_is_shown_on_the_page(deploy_setup, login):
    response = login(deploy_setup.lead).post(
        f"/use-cases/{deploy_setup.use_case.key}/deployments/new/",
        {"release": deploy_setup.releases["1.0"].pk, "environment": deploy_setup.production.pk},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Refused: {deploy_setup.use_case.key} release 1.0 cannot be deployed to Production" in page
    assert not Deployment.objects.exists()


def test_rollback_from_the_page(deploy_setup, login, django_capture_on_commit_callbacks):
    for version in ("1.0", "2.0"):
        approve_for_production(deploy_setup.use_case, deploy_setup.releases[version])
    client = login(deploy_setup.lead)
    deployed = []
    for version in ("1.0", "2.0"):
        with django_capture_on_commit_callbacks(execute=True):
            deployment = services.deployment_request(
                actor=deploy_setup.lead,
                use_case=deploy_setup.use_case,
                release=deploy_setup.releases[version],
                environment=deploy_setup.production,
            )
        assert signed_callback(client, deployment.pk, {"status": "succeeded"}).status_code == 200
        deployed.append(deployment)
    page = client.get(f"/deployments/{deployed[1].pk}/").content.decode()
    assert "Roll back to 1.0" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/deployments/{deployed[1].pk}/rollback/")
    rollback = Deployment.objects.get(rollback_of=deployed[1])
    assert response["Location"] == f"/deployments/{rollback.pk}/"
    # The first one has nothing before it: the page says why instead of offering a button.
    signed_callback(client, rollback.pk, {"status": "succeeded"})
    page = client.get(f"/deployments/{rollback.pk}/").content.decode()
    assert "Roll back to" not in page


def test_the_tab_and_the_list_do_not_grow_in_queries(deploy_setup, login, django_capture_on_commit_callbacks):
    client = login(deploy_setup.lead)

    def grow():
        for version in ("1.0", "2.0", "3.0"):
            with django_capture_on_commit_callbacks(execute=True):
                deployment = services.deployment_request(
                    actor=deploy_setup.lead,
                    use_case=deploy_setup.use_case,
                    release=deploy_setup.releases[version],
                    environment=deploy_setup.staging,
                )
            signed_callback(client, deployment.pk, {"status": "succeeded"})

    with django_capture_on_commit_callbacks(execute=True):
        first = services.deployment_request(
            actor=deploy_setup.lead,
            use_case=deploy_setup.use_case,
            release=deploy_setup.releases["1.0"],
            environment=deploy_setup.staging,
        )
    signed_callback(client, first.pk, {"status": "failed"})
    assert_queries_do_not_grow(client, [_tab(deploy_setup), "/deployments/"], grow)


#
# API
#


def test_api_create_list_retrieve_and_filter(deploy_setup, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/deployments/",
            {"use_case": deploy_setup.use_case.key, "release": "1.0", "environment": "staging"},
            format="json",
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    # The answer is written before the dispatch job runs (after commit).
    assert body["status"] == "queued" and body["release"] == "1.0" and body["environment"] == "staging"
    detail = api.get(f"/api/deployments/{body['id']}/").json()
    assert detail["status"] == "dispatched"
    assert [event["kind"] for event in detail["events"]] == ["requested", "dispatch_started", "dispatched"]
    listed = api.get(
        "/api/deployments/", {"status": "dispatched", "use_case": deploy_setup.use_case.key}
    ).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert api.get("/api/deployments/", {"environment": "production"}).json()["results"] == []


def test_api_refuses_production_without_approval_with_the_message(deploy_setup, api):
    response = api.post(
        "/api/deployments/",
        {"use_case": deploy_setup.use_case.key, "release": "1.0", "environment": "production"},
        format="json",
    )
    assert response.status_code == 400
    assert "cannot be deployed to Production" in response.json()["non_field_errors"][0]
    assert api.post(
        "/api/deployments/",
        {"use_case": deploy_setup.use_case.key, "release": "9.9", "environment": "staging"},
    ).json() == {"release": [f"{deploy_setup.use_case.key} has no release “9.9”."]}


def test_api_rollback_refusal_is_a_400(deploy_setup, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deployment = services.deployment_request(
            actor=deploy_setup.lead,
            use_case=deploy_setup.use_case,
            release=deploy_setup.releases["1.0"],
            environment=deploy_setup.staging,
        )
    signed_callback(api, deployment.pk, {"status": "succeeded"})
    response = api.post(f"/api/deployments/{deployment.pk}/rollback/")
    assert response.status_code == 400
    assert "No earlier release" in response.json()["non_field_errors"][0]


#
# The signed callback
#


@pytest.fixture
def dispatched(deploy_setup, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.deployment_request(
            actor=deploy_setup.lead,
            use_case=deploy_setup.use_case,
            release=deploy_setup.releases["1.0"],
            environment=deploy_setup.staging,
        )


def test_a_valid_callback_moves_the_state(client, dispatched):
    response = signed_callback(client, dispatched.pk, {"status": "running", "message": "Rolling out"})
    assert response.status_code == 200 and response.json()["status"] == "running"
    response = signed_callback(
        client, dispatched.pk, {"status": "succeeded", "external_url": "https://ci.example/runs/1"}
    )
    dispatched.refresh_from_db()
    assert dispatched.status == Status.SUCCEEDED and dispatched.is_current
    assert dispatched.external_url == "https://ci.example/runs/1"


def test_forged_replayed_and_stale_callbacks_are_refused(client, dispatched):
    forged = signed_callback(client, dispatched.pk, {"status": "succeeded"}, secret="guessed")
    assert forged.status_code == 403 and "signature does not match" in forged.json()["detail"]
    unsigned = client.post(
        f"/api/deployments/{dispatched.pk}/callback/",
        data=b'{"status": "succeeded"}',
        content_type="application/json",
    )
    assert unsigned.status_code == 403 and "must be signed" in unsigned.json()["detail"]
    stale = signed_callback(client, dispatched.pk, {"status": "succeeded"}, now=time.time() - 3600)
    assert stale.status_code == 403 and "replay" in stale.json()["detail"]
    # The same signed request twice: the second is a replay.
    body = json.dumps({"status": "running"}).encode()
    headers = signed_headers("webhook-signing-secret", body)
    first = client.post(
        f"/api/deployments/{dispatched.pk}/callback/",
        data=body,
        content_type="application/json",
        headers=headers,
    )
    again = client.post(
        f"/api/deployments/{dispatched.pk}/callback/",
        data=body,
        content_type="application/json",
        headers=headers,
    )
    assert first.status_code == 200
    assert again.status_code == 403 and "already used" in again.json()["detail"]
    dispatched.refresh_from_db()
    assert dispatched.status == Status.RUNNING


def test_unknown_deployment_and_invalid_moves(client, dispatched):
    assert signed_callback(client, 999_999, {"status": "succeeded"}).status_code == 404
    assert signed_callback(client, dispatched.pk, {"status": "failed"}).status_code == 200
    refused = signed_callback(client, dispatched.pk, {"status": "succeeded"})
    assert refused.status_code == 400
    assert "cannot become succeeded" in refused.json()["non_field_errors"][0]
    bad = signed_callback(client, dispatched.pk, {"status": "exploded"})
    assert bad.status_code == 400 and "status" in bad.json()


#
# The command
#


def test_the_command_queues_and_refuses_with_one_line(
    deploy_setup, django_capture_on_commit_callbacks, capsys
):
    key = deploy_setup.use_case.key
    with pytest.raises(CommandError, match=f"Refused: {key} release 1.0 cannot be deployed to Production"):
        call_command(
            "deploy", key, "--release", "1.0", "--env", "production", "--as", deploy_setup.lead.username
        )
    with pytest.raises(CommandError, match="has no release"):
        call_command("deploy", key, "--release", "nope", "--env", "staging")
    with pytest.raises(CommandError, match="There is no environment"):
        call_command("deploy", key, "--release", "1.0", "--env", "moon")
    approve_for_production(deploy_setup.use_case, deploy_setup.releases["1.0"])
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "deploy",
            key.lower(),
            "--release",
            "1.0",
            "--env",
            "production",
            "--as",
            deploy_setup.lead.username,
        )
    deployment = Deployment.objects.get()
    assert f"Deployment #{deployment.pk} of {key} 1.0 to Production queued." in capsys.readouterr().out
    assert deployment.requested_by == deploy_setup.lead and deployment.status == Status.DISPATCHED


def test_a_callback_cannot_complete_a_deployment_that_was_never_dispatched(deploy_setup, client):
    approve_for_production(deploy_setup.use_case, deploy_setup.releases["1.0"])
    deployment = services.deployment_request(  # its dispatch job never ran (no commit in this test)
        actor=deploy_setup.lead,
        use_case=deploy_setup.use_case,
        release=deploy_setup.releases["1.0"],
        environment=deploy_setup.production,
    )
    response = signed_callback(client, deployment.pk, {"status": "succeeded"})
    assert response.status_code == 400
    deployment.refresh_from_db()
    assert deployment.status == Status.QUEUED and not deployment.is_current
