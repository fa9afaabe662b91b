"""Request plumbing: a request id for logs and the audit trail, and security headers."""

import uuid

from django.conf import settings


class RequestIdMiddleware:
    """Give every request an id, echo it in ``X-Request-ID`` so support can find the log lines."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = uuid.uuid4()
        response = self.get_response(request)
        response["X-Request-ID"] = str(request.id)
        return response


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
