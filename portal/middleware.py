"""Request plumbing: a request id for logs and the audit trail, security headers, and a clear
answer to a request body that is too large."""

import uuid
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.views import defaults

from portal.audit import audit_context
from portal.choices import ChannelChoices


class RequestIdMiddleware:
    """Give every request an id, echo it in ``X-Request-ID`` so support can find the log lines."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = uuid.uuid4()
        response = self.get_response(request)
        response["X-Request-ID"] = str(request.id)
        return response


class RejectNullCharactersMiddleware:
    """Answer 400 to a NUL character anywhere in the address or the query string.

    No name, key or search term contains one, and PostgreSQL cannot take it as a query parameter
    (psycopg raises ValueError, which was a 500 for ``/use-cases/UC%00/``). Checking once here
    covers every page, API endpoint, filter and lookup."""

    MESSAGE = "The address contains a NUL character (%00), which no name or search term can hold."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw_query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(raw_query.replace("+", " ")):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": self.MESSAGE}, status=400)
            return defaults.bad_request(request, exception=None)
        return self.get_response(request)


class AuditContextMiddleware:
    """Attribute everything recorded during the request to it (person or token, channel, id).

    The actor is read from the request when an entry is written, after DRF has authenticated
    an API token, so token requests are attributed to the token.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = ChannelChoices.API if request.path.startswith("/api/") else ChannelChoices.UI
        with audit_context(channel=channel, request=request):
            return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response."""

    PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY:
            response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", self.PERMISSIONS_POLICY)
        return response


def request_too_large_message() -> str:
    """What a person or client is told about a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, here and
    in the API's exception handler alike."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    size = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"
    return (
        f"The request is larger than the {size} this portal accepts in one request (files "
        "uploaded in a form are not counted). Nothing was saved. Shorten the text, or upload "
        "large content as a file."
    )


class RequestTooLargeMiddleware:
    """Answer 413 with a message, as a page or as JSON for the API, to a body over the limits.

    Django raises ``RequestDataTooBig`` when a body (not counting uploaded files) exceeds
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``, wherever it is first read: the CSRF check answered 400 and
    the API's parsers 500. A body that is not a form is refused here from its Content-Length,
    before anything reads it; a form is parsed here (as the CSRF check would) to catch the same
    error in one place; a view that reads the body later is covered by ``process_exception``.
    """

    BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
    FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in self.BODY_METHODS:
            try:
                self._check(request)
            except RequestDataTooBig:
                return self.too_large(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            return self.too_large(request)
        return None

    def _check(self, request) -> None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request.content_type in self.FORM_TYPES:
            if not request.path.startswith("/api/"):
                request.POST  # noqa: B018 - parsing applies Django's limits (files do not count)
            # The API's own parsers read its form bodies: they refuse text no database can store
            # (portal/api/parsers.py), and its exception handler answers their 413 as below.
        elif limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise RequestDataTooBig()

    @staticmethod
    def message() -> str:
        return request_too_large_message()

    def too_large(self, request):
        if request.path.startswith("/api/"):
            response = JsonResponse({"detail": self.message(), "request_id": str(getattr(request, "id", ""))})
            response.status_code = 413
            return response
        response = TemplateResponse(request, "413.html", {"message": self.message()}, status=413)
        return response.render()
