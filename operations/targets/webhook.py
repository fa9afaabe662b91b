"""The generic webhook target: one signed JSON POST per deployment.

The body is ``DispatchRequest.as_payload()``; the headers carry ``X-Propylon-Timestamp`` and
``X-Propylon-Signature`` (HMAC-SHA256 over ``"<timestamp>." + body`` with the target's secret)
and ``Idempotency-Key`` (the deployment's key). A receiver must deploy once per key: Propylon
sends the same key again after a worker died mid-dispatch (operations.tasks), which is why this
kind ``honours_idempotency_key``. The receiver reports the outcome to the callback URL in the
payload, signed the same way with the same secret (or the target's callback secret).

The receiver's 2xx answer may say ``{"id": ..., "url": ..., "status": ...}``: the run's id and
page at the pipeline, and its status when it already knows it (running, succeeded, failed).
"""

import json

from operations.choices import DeploymentStatusChoices, DeploymentTargetKindChoices
from operations.targets.base import (
    IDEMPOTENCY_HEADER,
    MAX_MESSAGE_LENGTH,
    DispatchRequest,
    DispatchResult,
    PermanentTargetError,
    TargetClient,
    http_request,
    json_body,
    register_client,
    signed_headers,
)

# What a receiver's answer may report at once; anything else is taken as "dispatched".
ANSWERABLE_STATUSES = frozenset(
    {DeploymentStatusChoices.RUNNING, DeploymentStatusChoices.SUCCEEDED, DeploymentStatusChoices.FAILED}
)


@register_client
class WebhookClient(TargetClient):
    kind = DeploymentTargetKindChoices.WEBHOOK
    supports_polling = False
    # The receiver deduplicates by Idempotency-Key: a second send with the same key is safe.
    honours_idempotency_key = True

    def _post(self, payload: dict, *, idempotency_key: str = "") -> tuple[int, bytes]:
        if not self.secret:
            raise PermanentTargetError(
                f"The webhook target “{self.target.name}” has no signing secret: an admin sets one first."
            )
        body = json_body(payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Propylon",
            **signed_headers(self.secret, body),
        }
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        return http_request("POST", self.target.url, body=body, headers=headers, timeout=self.timeout)

    def dispatch(self, request: DispatchRequest) -> DispatchResult:
        _status, raw = self._post(request.as_payload(), idempotency_key=request.idempotency_key)
        answer = _json_object(raw)
        status = str(answer.get("status") or "")
        return DispatchResult(
            external_id=str(answer.get("id") or answer.get("external_id") or "")[:200],
            external_url=_http_url(answer.get("url") or answer.get("external_url")),
            status=status if status in ANSWERABLE_STATUSES else DeploymentStatusChoices.DISPATCHED,
            message=str(answer.get("message") or "")[:MAX_MESSAGE_LENGTH],
        )

    def send_test_event(self) -> str:
        status, _raw = self._post({"event": "test"})
        return f"The webhook answered {status}."


def _json_object(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _http_url(value) -> str:
    text = str(value or "")
    return text[:500] if text.startswith(("http://", "https://")) else ""
