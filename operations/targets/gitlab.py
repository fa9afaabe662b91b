"""GitLab: a pipeline trigger per deployment, polled with an optional read token.

``POST {url}/api/v4/projects/{project}/trigger/pipeline`` with the form fields ``token`` (the
target's secret: a pipeline trigger token), ``ref`` and ``variables[…]``: PROPYLON_DEPLOYMENT_ID,
PROPYLON_IDEMPOTENCY_KEY, PROPYLON_USE_CASE, PROPYLON_RELEASE, PROPYLON_CODE_REF,
PROPYLON_ENVIRONMENT, PROPYLON_CALLBACK_URL. GitLab answers with the pipeline (``id``,
``web_url``).

A trigger token starts pipelines and can read nothing. With a read token (a project access
token with ``read_api``, stored encrypted like the secret) Propylon polls
``GET /api/v4/projects/{project}/pipelines/{id}``; without one the pipeline reports through the
signed callback only, and the test event can only say so (GitLab has no call that checks a
trigger token without starting a pipeline).
"""

from urllib.parse import quote, urlencode

from operations import secrets
from operations.choices import DeploymentStatusChoices, DeploymentTargetKindChoices
from operations.targets.base import (
    DispatchRequest,
    DispatchResult,
    PermanentTargetError,
    StatusReport,
    TargetClient,
    http_request,
    register_client,
)
from operations.targets.redaction import base_url, http_url, json_object, without_secrets

# GitLab's pipeline statuses, as deployment statuses.
PIPELINE_STATUSES = {
    "created": DeploymentStatusChoices.DISPATCHED,
    "waiting_for_resource": DeploymentStatusChoices.DISPATCHED,
    "preparing": DeploymentStatusChoices.DISPATCHED,
    "pending": DeploymentStatusChoices.DISPATCHED,
    "scheduled": DeploymentStatusChoices.DISPATCHED,
    "manual": DeploymentStatusChoices.DISPATCHED,
    "running": DeploymentStatusChoices.RUNNING,
    "success": DeploymentStatusChoices.SUCCEEDED,
    "failed": DeploymentStatusChoices.FAILED,
    "canceling": DeploymentStatusChoices.FAILED,
    "canceled": DeploymentStatusChoices.FAILED,
    "skipped": DeploymentStatusChoices.FAILED,
}


@register_client
class GitLabPipelineClient(TargetClient):
    kind = DeploymentTargetKindChoices.GITLAB_PIPELINE
    supports_polling = True
    # A second trigger starts a second pipeline: never send one twice.
    honours_idempotency_key = False

    def __init__(self, target):
        super().__init__(target)
        self.read_token = secrets.decrypt(target.read_token_encrypted)

    def _project_url(self) -> str:
        project = quote(str(self.target.options["project"]), safe="")
        return f"{base_url(self.target.url)}/api/v4/projects/{project}"

    def _read(self, url: str) -> dict:
        headers = {"PRIVATE-TOKEN": self.read_token, "User-Agent": "Propylon"}
        with without_secrets(self.read_token, self.secret):
            _status, raw = http_request("GET", url, headers=headers, timeout=self.timeout)
        return json_object(raw)

    def dispatch(self, request: DispatchRequest) -> DispatchResult:
        if not self.secret:
            raise PermanentTargetError(
                f"The GitLab target “{self.target.name}” has no trigger token: an admin sets one first."
            )
        variables = {
            "PROPYLON_DEPLOYMENT_ID": str(request.deployment_id),
            "PROPYLON_IDEMPOTENCY_KEY": request.idempotency_key,
            "PROPYLON_USE_CASE": request.use_case_key,
            "PROPYLON_RELEASE": request.release_version,
            "PROPYLON_CODE_REF": request.code_ref,
            "PROPYLON_ENVIRONMENT": request.environment,
            "PROPYLON_CALLBACK_URL": request.callback_url,
        }
        fields = [("token", self.secret), ("ref", self.target.options.get("ref") or "main")]
        fields += [(f"variables[{name}]", value) for name, value in variables.items()]
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Propylon"}
        with without_secrets(self.secret, self.read_token):
            _status, raw = http_request(
                "POST",
                f"{self._project_url()}/trigger/pipeline",
                body=urlencode(fields).encode(),
                headers=headers,
                timeout=self.timeout,
            )
        pipeline = json_object(raw)
        pipeline_id = str(pipeline.get("id") or "")
        return DispatchResult(
            external_id=pipeline_id,
            external_url=http_url(pipeline.get("web_url")),
            message=f"GitLab created pipeline {pipeline_id}."
            if pipeline_id
            else "GitLab accepted the trigger.",
        )

    def poll(self, deployment) -> StatusReport:
        if not self.read_token:
            return StatusReport(
                status=None, message="No GitLab read token on this target: waiting for the callback."
            )
        if not deployment.external_id:
            return StatusReport(status=None, message="GitLab named no pipeline: waiting for the callback.")
        pipeline = self._read(f"{self._project_url()}/pipelines/{quote(deployment.external_id, safe='')}")
        return pipeline_status(pipeline)

    def send_test_event(self) -> str:
        if not self.read_token:
            if not self.secret:
                raise PermanentTargetError("This GitLab target has neither a trigger token nor a read token.")
            return (
                "A trigger token is stored, but GitLab offers no call that checks one without starting a "
                "pipeline; add a read token to test the connection."
            )
        project = self._read(self._project_url())
        name = project.get("path_with_namespace") or self.target.options["project"]
        return f"GitLab project {name} is reachable with the read token."


def pipeline_status(pipeline: dict) -> StatusReport:
    """A pipeline (GET /projects/{id}/pipelines/{pipeline_id}) as a deployment status."""
    status = str(pipeline.get("status") or "")
    url = http_url(pipeline.get("web_url"))
    if status not in PIPELINE_STATUSES:
        return StatusReport(None, f"GitLab reported an unknown pipeline status {status!r}."[:200], url)
    return StatusReport(PIPELINE_STATUSES[status], f"The pipeline is {status}.", url)
