"""Request plumbing: a request id for logs and the audit trail, and security headers."""

import uuid
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import JsonResponse
from django.views import defaults


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
        from portal.audit import audit_context
        from portal.choices import ChannelChoices

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
