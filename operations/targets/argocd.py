"""Argo CD: sync one application to the release's code ref.

``POST {url}/api/v1/applications/{application}/sync`` with the target's token (an Argo CD
account token allowed to ``sync`` the application) and ``{"revision": code_ref}``. Argo CD has no
run id: Propylon polls ``GET {url}/api/v1/applications/{application}`` and reads
``status.operationState`` (phase Running, Succeeded, Failed, Error, Terminating) and, once the
sync succeeded, ``status.health.status``: a deployment succeeds when its sync did and the
application is Healthy. Options: ``application`` (required), ``app_namespace`` (apps outside
the control plane's namespace), ``prune`` (delete resources gone from Git).
"""

from urllib.parse import quote, urlencode

from operations.choices import DeploymentStatusChoices, DeploymentTargetKindChoices
from operations.targets.base import (
    MAX_MESSAGE_LENGTH,
    DispatchRequest,
    DispatchResult,
    PermanentTargetError,
    StatusReport,
    TargetClient,
    http_request,
    json_body,
    register_client,
)
from operations.targets.redaction import base_url, json_object, without_secrets

RUNNING_PHASES = frozenset({"Running", "Terminating"})
FAILED_PHASES = frozenset({"Failed", "Error"})
UNHEALTHY = frozenset({"Degraded", "Missing"})


@register_client
class ArgoCDClient(TargetClient):
    kind = DeploymentTargetKindChoices.ARGOCD
    supports_polling = True
    # A sync declares the desired revision: syncing to the same revision again changes nothing.
    honours_idempotency_key = True

    @property
    def application(self) -> str:
        return str(self.target.options["application"])

    def _application_url(self, suffix: str = "") -> str:
        url = f"{base_url(self.target.url)}/api/v1/applications/{quote(self.application, safe='')}{suffix}"
        namespace = self.target.options.get("app_namespace")
        return f"{url}?{urlencode({'appNamespace': namespace})}" if namespace else url

    def _call(self, method: str, url: str, payload: dict | None = None) -> dict:
        if not self.secret:
            raise PermanentTargetError(
                f"The Argo CD target “{self.target.name}” has no token: an admin sets one first."
            )
        headers = {
            "Authorization": f"Bearer {self.secret}",
            "Accept": "application/json",
            "User-Agent": "Propylon",
        }
        body = None
        if payload is not None:
            body = json_body(payload)
            headers["Content-Type"] = "application/json"
        with without_secrets(self.secret):
            _status, raw = http_request(method, url, body=body, headers=headers, timeout=self.timeout)
        return json_object(raw)

    def _web_url(self) -> str:
        return f"{base_url(self.target.url)}/applications/{quote(self.application, safe='')}"

    def dispatch(self, request: DispatchRequest) -> DispatchResult:
        payload = {"revision": request.code_ref, "prune": bool(self.target.options.get("prune", False))}
        self._call("POST", self._application_url("/sync"), payload)
        return DispatchResult(
            external_id=f"{self.application}@{request.code_ref}"[:200],
            external_url=self._web_url(),
            message=f"Argo CD is syncing {self.application} to {request.code_ref}.",
        )

    def poll(self, deployment) -> StatusReport:
        application = self._call("GET", self._application_url())
        return application_status(application, revision=deployment.release.code_ref, url=self._web_url())

    def send_test_event(self) -> str:
        status = self._call("GET", self._application_url()).get("status") or {}
        sync = (status.get("sync") or {}).get("status") or "unknown"
        health = (status.get("health") or {}).get("status") or "unknown"
        return f"Argo CD application {self.application} is reachable (sync: {sync}, health: {health})."


def application_status(application: dict, *, revision: str, url: str = "") -> StatusReport:
    """An application (GET /api/v1/applications/{name}) as the status of a sync to ``revision``."""
    status = application.get("status") or {}
    operation = status.get("operationState") or {}
    phase = operation.get("phase") or ""
    message = str(operation.get("message") or "")[:MAX_MESSAGE_LENGTH]
    requested = ((operation.get("operation") or {}).get("sync") or {}).get("revision")
    if not phase:
        return StatusReport(None, "Argo CD shows no sync operation yet.", url)
    if requested and requested != revision:
        return StatusReport(None, f"Argo CD's last operation synced {requested}, not {revision}.", url)
    if phase in RUNNING_PHASES:
        return StatusReport(DeploymentStatusChoices.RUNNING, message or f"The sync is {phase.lower()}.", url)
    if phase in FAILED_PHASES:
        return StatusReport(DeploymentStatusChoices.FAILED, message or f"The sync ended: {phase}.", url)
    if phase != "Succeeded":
        return StatusReport(None, f"Argo CD reported an unknown phase {phase!r}."[:200], url)
    health = (status.get("health") or {}).get("status") or "Unknown"
    if health == "Healthy":
        return StatusReport(DeploymentStatusChoices.SUCCEEDED, "Synced and healthy.", url)
    if health in UNHEALTHY:
        return StatusReport(DeploymentStatusChoices.FAILED, f"Synced, but the application is {health}.", url)
    return StatusReport(DeploymentStatusChoices.RUNNING, f"Synced; waiting for health ({health}).", url)
