"""What every deployment target client does, and the HTTP plumbing they share.

A client is made for one :class:`~operations.models.DeploymentTarget` with its secrets decrypted.
``dispatch`` asks the pipeline to deploy and carries the deployment's idempotency key, so a
pipeline that sees the same key twice deploys once. Errors are sorted into two kinds: a
:class:`TransientTargetError` (timeout, connection refused, 5xx, 429) is retried with backoff,
a :class:`PermanentTargetError` (4xx: a wrong token, an unknown workflow) fails the deployment
with its message. Neither ever carries a secret.
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from operations import secrets

# A message from a target is shown to people; keep it short and free of what they sent back.
MAX_MESSAGE_LENGTH = 500
SIGNATURE_HEADER = "X-Propylon-Signature"
TIMESTAMP_HEADER = "X-Propylon-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class TargetError(Exception):
    pass


class TransientTargetError(TargetError):
    """Worth trying again later: the target was unreachable, slow or overloaded."""


class PermanentTargetError(TargetError):
    """Trying again will not help: the target refused the request as configured."""


@dataclass(frozen=True)
class DispatchRequest:
    deployment_id: int
    idempotency_key: str
    use_case_key: str
    use_case_name: str
    release_version: str
    code_ref: str
    environment: str  # the environment's slug
    environment_kind: str
    callback_url: str
    rollback_of: int | None = None

    def as_payload(self) -> dict:
        return {"event": "deployment.requested", **asdict(self)}


@dataclass(frozen=True)
class DispatchResult:
    """What the target said when it accepted the request."""

    external_id: str = ""
    external_url: str = ""
    # Most pipelines only accept (→ dispatched); a target that answers with the outcome can say
    # "running", "succeeded" or "failed" at once.
    status: str = "dispatched"
    message: str = ""


@dataclass(frozen=True)
class StatusReport:
    """What polling learned: a DeploymentStatusChoices value, or None while unknown."""

    status: str | None
    message: str = ""
    external_url: str = ""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>." + body`` (outgoing webhooks and
    incoming callbacks use the same scheme; docs/deployments.md)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def http_request(
    method: str, url: str, *, body: bytes | None = None, headers: dict | None = None, timeout: float
) -> tuple[int, bytes]:
    """Send one request; returns (status, body) for 2xx, raises a TargetError otherwise."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise PermanentTargetError("A deployment target's URL must be http or https.")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        url, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            return response.status, response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        detail = _short(exc.read(2000))
        message = f"{method} {_without_query(url)} answered {exc.code} {exc.reason}" + (
            f": {detail}" if detail else ""
        )
        if exc.code == 429 or exc.code >= 500:
            raise TransientTargetError(message) from None
        raise PermanentTargetError(message) from None
    except TimeoutError as exc:
        raise TransientTargetError(
            f"{method} {_without_query(url)} did not answer within {timeout:g} s"
        ) from exc
    except urllib.error.URLError as exc:
        raise TransientTargetError(f"{method} {_without_query(url)} failed: {exc.reason}") from None
    except (ConnectionError, OSError) as exc:
        raise TransientTargetError(f"{method} {_without_query(url)} failed: {exc}") from None


def _without_query(url: str) -> str:
    # GitLab trigger tokens and the like may travel in the query string: never echo them.
    return url.split("?", 1)[0]


def _short(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:200]


def json_body(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


class TargetClient:
    """Base of the clients; subclasses set ``kind`` and implement dispatch (and poll)."""

    kind: str = ""
    # Whether ``poll`` can learn a deployment's outcome (else only callbacks report it).
    supports_polling: bool = False

    def __init__(self, target):
        self.target = target
        self.secret = secrets.decrypt(target.secret_encrypted)
        self.timeout = float(target.timeout_seconds)

    def dispatch(self, request: DispatchRequest) -> DispatchResult:
        raise NotImplementedError

    def poll(self, deployment) -> StatusReport:
        return StatusReport(status=None, message="This target reports only through callbacks.")

    def send_test_event(self) -> str:
        """Prove the target is reachable and accepts our credentials; returns what it said."""
        raise NotImplementedError


_CLIENTS: dict[str, type[TargetClient]] = {}


def register_client(cls: type[TargetClient]) -> type[TargetClient]:
    _CLIENTS[cls.kind] = cls
    return cls


def client_for(target) -> TargetClient:
    try:
        return _CLIENTS[target.kind](target)
    except KeyError:
        raise PermanentTargetError(f"No client handles deployment targets of kind {target.kind!r}.") from None
