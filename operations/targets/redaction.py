"""What the GitHub, GitLab and Argo CD clients share: answers read as JSON, secrets kept out of
every message.

``http_request`` already drops query strings from its messages, but a target may echo what it
was sent in an error body (a 400 that quotes the form); ``without_secrets`` replaces any secret
the client holds before the error reaches a deployment's history, a page or a log.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager

from operations.targets.base import TargetError

REDACTED = "[secret]"


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


@contextmanager
def without_secrets(*secrets: str) -> Iterator[None]:
    """Re-raise a TargetError with every given secret blanked out of its message."""
    try:
        yield
    except TargetError as exc:
        message = str(exc)
        cleaned = redact(message, secrets)
        if cleaned == message:
            raise
        raise type(exc)(cleaned) from None


def json_object(raw: bytes) -> dict:
    """The answer's JSON object, or {} when it is empty or not an object."""
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def http_url(value) -> str:
    text = str(value or "")
    return text[:500] if text.startswith(("http://", "https://")) else ""


def base_url(url: str) -> str:
    return url.rstrip("/")
