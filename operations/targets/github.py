"""GitHub Actions: a ``workflow_dispatch`` of one workflow per deployment.

``POST {url}/repos/{repository}/actions/workflows/{workflow}/dispatches`` with the target's token
(a fine-grained token with ``actions:write`` on the repository). The workflow must declare the
``workflow_dispatch`` inputs Propylon sends (all strings, seven of GitHub's ten allowed):
``deployment_id``, ``idempotency_key``, ``use_case``, ``release``, ``code_ref``, ``environment``,
``callback_url``.

Finding the run: GitHub long answered a dispatch with ``204 No Content`` and no run id, and
matching a run afterwards by time or title is guesswork. Since February 2026 the endpoint
returns the run (``200`` with ``workflow_run_id``, ``run_url``, ``html_url``) when asked with
``return_run_details``; Propylon asks, and polls ``/actions/runs/{id}`` when it got an id. A
server that still answers 204 (an older GitHub Enterprise Server) gives no id: the deployment
then learns its outcome only from the workflow's signed callback to ``callback_url``.
"""

from urllib.parse import quote

from operations.choices import DeploymentStatusChoices, DeploymentTargetKindChoices
from operations.targets.base import (
    DispatchRequest,
    DispatchResult,
    PermanentTargetError,
    StatusReport,
    TargetClient,
    http_request,
    json_body,
    register_client,
)
from operations.targets.redaction import base_url, http_url, json_object, without_secrets

API_VERSION = "2022-11-28"

# A run's ``status`` before it completes, and its ``conclusion`` once it has.
PENDING_RUN_STATUSES = frozenset({"queued", "requested", "waiting", "pending"})
SUCCESSFUL_CONCLUSIONS = frozenset({"success"})


@register_client
class GitHubActionsClient(TargetClient):
    kind = DeploymentTargetKindChoices.GITHUB_ACTIONS
    supports_polling = True
    # A second dispatch starts a second run: never send one twice.
    honours_idempotency_key = False

    @property
    def repository(self) -> str:
        return self.target.options["repository"]

    @property
    def workflow(self) -> str:
        return str(self.target.options["workflow"])

    def _workflow_url(self) -> str:
        return (
            f"{base_url(self.target.url)}/repos/{quote(self.repository, safe='/')}"
            f"/actions/workflows/{quote(self.workflow, safe='')}"
        )

    def _headers(self) -> dict[str, str]:
        if not self.secret:
            raise PermanentTargetError(
                f"The GitHub target “{self.target.name}” has no token: an admin sets one first."
            )
        return {
            "Authorization": f"Bearer {self.secret}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "Propylon",
        }

    def _call(self, method: str, url: str, payload: dict | None = None) -> tuple[int, dict]:
        headers = self._headers()
        body = None
        if payload is not None:
            body = json_body(payload)
            headers["Content-Type"] = "application/json"
        with without_secrets(self.secret):
            status, raw = http_request(method, url, body=body, headers=headers, timeout=self.timeout)
        return status, json_object(raw)

    def dispatch(self, request: DispatchRequest) -> DispatchResult:
        payload = {
            "ref": self.target.options.get("ref") or "main",
            "inputs": {
                "deployment_id": str(request.deployment_id),
                "idempotency_key": request.idempotency_key,
                "use_case": request.use_case_key,
                "release": request.release_version,
                "code_ref": request.code_ref,
                "environment": request.environment,
                "callback_url": request.callback_url,
            },
            "return_run_details": True,
        }
        status, answer = self._call("POST", f"{self._workflow_url()}/dispatches", payload)
        run_id = answer.get("workflow_run_id") or answer.get("id")
        if status == 200 and run_id:
            return DispatchResult(
                external_id=str(run_id),
                external_url=http_url(answer.get("html_url")),
                message=f"GitHub started workflow run {run_id}.",
            )
        return DispatchResult(
            message="GitHub accepted the dispatch without naming its run: the workflow reports the "
            "outcome through the callback."
        )

    def poll(self, deployment) -> StatusReport:
        if not deployment.external_id:
            return StatusReport(
                status=None, message="GitHub named no run for this dispatch: waiting for the callback."
            )
        url = (
            f"{base_url(self.target.url)}/repos/{quote(self.repository, safe='/')}"
            f"/actions/runs/{quote(deployment.external_id, safe='')}"
        )
        _status, run = self._call("GET", url)
        return run_status(run)

    def send_test_event(self) -> str:
        _status, workflow = self._call("GET", self._workflow_url())
        name = workflow.get("name") or self.workflow
        state = workflow.get("state") or "unknown"
        return f"GitHub workflow “{name}” in {self.repository} is reachable (state: {state})."


def run_status(run: dict) -> StatusReport:
    """A workflow run (GET /repos/{repo}/actions/runs/{id}) as a deployment status."""
    status = str(run.get("status") or "")
    conclusion = str(run.get("conclusion") or "")
    url = http_url(run.get("html_url"))
    if status == "completed":
        if conclusion in SUCCESSFUL_CONCLUSIONS:
            return StatusReport(DeploymentStatusChoices.SUCCEEDED, "The workflow run succeeded.", url)
        return StatusReport(
            DeploymentStatusChoices.FAILED, f"The workflow run ended: {conclusion or 'no conclusion'}.", url
        )
    if status in PENDING_RUN_STATUSES:
        return StatusReport(DeploymentStatusChoices.DISPATCHED, f"The workflow run is {status}.", url)
    if status:
        return StatusReport(DeploymentStatusChoices.RUNNING, f"The workflow run is {status}.", url)
    return StatusReport(None, "GitHub did not say how the run is doing.", url)
