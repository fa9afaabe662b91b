"""The GitHub Actions, GitLab and Argo CD clients against a local fake target (no network):
what they send, how they read the answers, how they sort failures, and that no secret ever
reaches an error message."""

from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest

from operations import secrets
from operations.models import DeploymentTarget
from operations.targets import DispatchRequest, PermanentTargetError, TransientTargetError, client_for
from operations.testing import FakeTarget

TOKEN = "ghp-very-secret-token-123"
READ_TOKEN = "glpat-read-only-token-456"

OPTIONS = {
    "github_actions": {"repository": "acme/fraud-model", "workflow": "deploy.yml", "ref": "release"},
    "gitlab_pipeline": {"project": "acme/platform/fraud", "ref": "main"},
    "argocd": {"application": "fraud-model", "app_namespace": "team-risk"},
}


def make_target(
    kind: str, url: str, *, secret: str = TOKEN, read_token: str = "", timeout: int = 5, **options
):
    return DeploymentTarget(
        name=f"{kind} target",
        slug=f"{kind}-target",
        kind=kind,
        url=url,
        options={**OPTIONS[kind], **options},
        secret_encrypted=secrets.encrypt(secret),
        read_token_encrypted=secrets.encrypt(read_token),
        timeout_seconds=timeout,
    )


def dispatch_request() -> DispatchRequest:
    return DispatchRequest(
        deployment_id=42,
        idempotency_key="propylon-deployment-42",
        use_case_key="UC-0007",
        use_case_name="Fraud scoring",
        release_version="2026.11.2",
        code_ref="v2.3.1",
        environment="production",
        environment_kind="production",
        callback_url="https://propylon.example.com/api/deployments/42/callback/",
    )


def header(received, name: str) -> str | None:
    """A received header, by its case-insensitive name (urllib capitalises what it sends)."""
    return {key.lower(): value for key, value in received.headers.items()}.get(name.lower())


def deployment(external_id: str = "", code_ref: str = "v2.3.1"):
    return SimpleNamespace(external_id=external_id, release=SimpleNamespace(code_ref=code_ref))


#
# GitHub Actions
#


def test_github_dispatch_sends_workflow_dispatch_with_string_inputs_and_reads_the_run():
    with FakeTarget() as fake:
        fake.respond(
            200, {"workflow_run_id": 9911, "run_url": "x", "html_url": "https://github.com/acme/r/9911"}
        )
        result = client_for(make_target("github_actions", fake.url + "/api")).dispatch(dispatch_request())
    (sent,) = fake.requests
    assert sent.method == "POST"
    assert sent.path == "/api/repos/acme/fraud-model/actions/workflows/deploy.yml/dispatches"
    assert header(sent, "Authorization") == f"Bearer {TOKEN}"
    assert header(sent, "Accept") == "application/vnd.github+json"
    assert header(sent, "X-GitHub-Api-Version") == "2022-11-28"
    body = sent.json()
    assert body["ref"] == "release"
    assert body["return_run_details"] is True
    assert body["inputs"] == {
        "deployment_id": "42",
        "idempotency_key": "propylon-deployment-42",
        "use_case": "UC-0007",
        "release": "2026.11.2",
        "code_ref": "v2.3.1",
        "environment": "production",
        "callback_url": "https://propylon.example.com/api/deployments/42/callback/",
    }
    assert len(body["inputs"]) <= 10 and all(isinstance(value, str) for value in body["inputs"].values())
    assert result.external_id == "9911"
    assert result.external_url == "https://github.com/acme/r/9911"
    assert result.status == "dispatched"


def test_github_without_a_run_id_relies_on_the_callback():
    with FakeTarget() as fake:
        fake.respond(204, b"")
        client = client_for(make_target("github_actions", fake.url))
        result = client.dispatch(dispatch_request())
        report = client.poll(deployment(external_id=""))
    assert result.external_id == ""
    assert "callback" in result.message
    assert report.status is None and "callback" in report.message
    assert len(fake.requests) == 1  # no poll without a run to ask about


@pytest.mark.parametrize(
    ("run", "status"),
    [
        ({"status": "queued"}, "dispatched"),
        ({"status": "in_progress"}, "running"),
        ({"status": "completed", "conclusion": "success"}, "succeeded"),
        ({"status": "completed", "conclusion": "failure"}, "failed"),
        ({"status": "completed", "conclusion": "cancelled"}, "failed"),
    ],
)
def test_github_poll_reads_the_run(run, status):
    with FakeTarget() as fake:
        fake.respond(200, {**run, "html_url": "https://github.com/acme/fraud-model/actions/runs/77"})
        report = client_for(make_target("github_actions", fake.url)).poll(deployment("77"))
    assert fake.requests[0].method == "GET"
    assert fake.requests[0].path == "/repos/acme/fraud-model/actions/runs/77"
    assert header(fake.requests[0], "Authorization") == f"Bearer {TOKEN}"
    assert report.status == status
    assert report.external_url.endswith("/runs/77")


def test_github_test_event_reads_the_workflow():
    with FakeTarget() as fake:
        fake.respond(200, {"name": "Deploy", "state": "active"})
        message = client_for(make_target("github_actions", fake.url)).send_test_event()
    assert fake.requests[0].method == "GET"
    assert fake.requests[0].path == "/repos/acme/fraud-model/actions/workflows/deploy.yml"
    assert message == "GitHub workflow “Deploy” in acme/fraud-model is reachable (state: active)."


#
# GitLab
#


def test_gitlab_dispatch_triggers_a_pipeline_with_form_fields():
    with FakeTarget() as fake:
        fake.respond(201, {"id": 5120, "web_url": "https://gitlab.example.com/acme/fraud/-/pipelines/5120"})
        result = client_for(make_target("gitlab_pipeline", fake.url)).dispatch(dispatch_request())
    (sent,) = fake.requests
    assert sent.method == "POST"
    assert sent.path == "/api/v4/projects/acme%2Fplatform%2Ffraud/trigger/pipeline"
    assert header(sent, "Content-Type") == "application/x-www-form-urlencoded"
    form = {key: values[0] for key, values in parse_qs(sent.body.decode()).items()}
    assert form["token"] == TOKEN
    assert form["ref"] == "main"
    assert form["variables[PROPYLON_DEPLOYMENT_ID]"] == "42"
    assert form["variables[PROPYLON_IDEMPOTENCY_KEY]"] == "propylon-deployment-42"
    assert form["variables[PROPYLON_CODE_REF]"] == "v2.3.1"
    assert form["variables[PROPYLON_CALLBACK_URL]"].endswith("/api/deployments/42/callback/")
    assert result.external_id == "5120"
    assert result.external_url.endswith("/pipelines/5120")


@pytest.mark.parametrize(
    ("pipeline_status", "status"),
    [
        ("created", "dispatched"),
        ("pending", "dispatched"),
        ("running", "running"),
        ("success", "succeeded"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("skipped", "failed"),
    ],
)
def test_gitlab_poll_reads_the_pipeline_with_the_read_token(pipeline_status, status):
    with FakeTarget() as fake:
        fake.respond(200, {"id": 5120, "status": pipeline_status})
        report = client_for(make_target("gitlab_pipeline", fake.url, read_token=READ_TOKEN)).poll(
            deployment("5120")
        )
    (sent,) = fake.requests
    assert sent.path == "/api/v4/projects/acme%2Fplatform%2Ffraud/pipelines/5120"
    assert header(sent, "Private-Token") == READ_TOKEN
    assert report.status == status


def test_gitlab_without_a_read_token_waits_for_the_callback():
    with FakeTarget() as fake:
        client = client_for(make_target("gitlab_pipeline", fake.url))
        report = client.poll(deployment("5120"))
        message = client.send_test_event()
    assert fake.requests == []
    assert report.status is None and "callback" in report.message
    assert "read token" in message


def test_gitlab_test_event_reads_the_project():
    with FakeTarget() as fake:
        fake.respond(200, {"path_with_namespace": "acme/platform/fraud"})
        message = client_for(
            make_target("gitlab_pipeline", fake.url, read_token=READ_TOKEN)
        ).send_test_event()
    assert fake.requests[0].path == "/api/v4/projects/acme%2Fplatform%2Ffraud"
    assert message == "GitLab project acme/platform/fraud is reachable with the read token."


#
# Argo CD
#


def test_argocd_dispatch_syncs_the_application_to_the_code_ref():
    with FakeTarget() as fake:
        result = client_for(make_target("argocd", fake.url)).dispatch(dispatch_request())
    (sent,) = fake.requests
    assert sent.method == "POST"
    assert sent.path == "/api/v1/applications/fraud-model/sync?appNamespace=team-risk"
    assert header(sent, "Authorization") == f"Bearer {TOKEN}"
    assert sent.json() == {"revision": "v2.3.1", "prune": False}
    assert result.external_url == f"{fake.url}/applications/fraud-model"


def _application(phase, health="Healthy", revision="v2.3.1", message=""):
    operation = {"phase": phase, "message": message, "operation": {"sync": {"revision": revision}}}
    return {
        "status": {"operationState": operation, "health": {"status": health}, "sync": {"status": "Synced"}}
    }


@pytest.mark.parametrize(
    ("application", "status"),
    [
        (_application("Running"), "running"),
        (_application("Terminating"), "running"),
        (_application("Failed", message="one or more objects failed to apply"), "failed"),
        (_application("Error"), "failed"),
        (_application("Succeeded"), "succeeded"),
        (_application("Succeeded", health="Progressing"), "running"),
        (_application("Succeeded", health="Degraded"), "failed"),
        (_application("Succeeded", revision="v1.0.0"), None),  # someone else's sync
        ({"status": {}}, None),
    ],
)
def test_argocd_poll_reads_the_operation_state_and_health(application, status):
    with FakeTarget() as fake:
        fake.respond(200, application)
        report = client_for(make_target("argocd", fake.url)).poll(deployment())
    assert fake.requests[0].method == "GET"
    assert fake.requests[0].path == "/api/v1/applications/fraud-model?appNamespace=team-risk"
    assert report.status == status


def test_argocd_test_event_reads_the_application():
    with FakeTarget() as fake:
        fake.respond(200, {"status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}})
        message = client_for(make_target("argocd", fake.url)).send_test_event()
    assert fake.requests[0].method == "GET"
    assert message == "Argo CD application fraud-model is reachable (sync: Synced, health: Healthy)."


#
# Failures, for every kind
#

KINDS = ["github_actions", "gitlab_pipeline", "argocd"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_4xx_is_permanent_and_never_carries_the_secret(kind, status):
    with FakeTarget() as fake:
        # A target that echoes what it was sent (a form quoted back in its error).
        fake.respond(status, {"message": f"bad credentials: {TOKEN}"})
        with pytest.raises(PermanentTargetError) as raised:
            client_for(make_target(kind, fake.url)).dispatch(dispatch_request())
    assert str(status) in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_5xx_or_429_is_transient(kind, status):
    with FakeTarget() as fake:
        fake.respond(status, {"message": f"overloaded {TOKEN}"})
        with pytest.raises(TransientTargetError) as raised:
            client_for(make_target(kind, fake.url)).dispatch(dispatch_request())
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_slow_target_times_out_as_transient(kind):
    with FakeTarget() as fake:
        fake.respond(200, {}, delay=1.6)
        with pytest.raises(TransientTargetError) as raised:
            client_for(make_target(kind, fake.url, timeout=1)).dispatch(dispatch_request())
    assert "did not answer within 1 s" in str(raised.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_connection_is_transient(kind):
    with FakeTarget() as fake:
        url = fake.url
    with pytest.raises(TransientTargetError):
        client_for(make_target(kind, url)).dispatch(dispatch_request())


def test_the_gitlab_read_token_never_reaches_a_poll_error():
    with FakeTarget() as fake:
        fake.respond(401, {"message": f"401 Unauthorized {READ_TOKEN}"})
        with pytest.raises(PermanentTargetError) as raised:
            client_for(make_target("gitlab_pipeline", fake.url, read_token=READ_TOKEN)).poll(deployment("1"))
    assert READ_TOKEN not in str(raised.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_target_without_a_secret_says_so(kind):
    with FakeTarget() as fake, pytest.raises(PermanentTargetError) as raised:
        client_for(make_target(kind, fake.url, secret="")).dispatch(dispatch_request())
    assert "an admin sets one first" in str(raised.value)
    assert fake.requests == []
