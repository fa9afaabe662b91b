"""Token scopes: what a token may do, on top of what its user may do."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from portal.models import ApiToken, TokenScope


class TokenScopePermission(BasePermission):
    """A token needs `read` for safe methods and `write` for the rest.

    Views for machine endpoints set ``required_scope`` (e.g. ``telemetry:ingest``) instead.
    Session-authenticated requests are not limited by scopes.
    """

    message = "This token does not carry the scope this request needs."

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        required = getattr(view, "required_scope", None) or (
            TokenScope.READ if request.method in SAFE_METHODS else TokenScope.WRITE
        )
        return token.has_scope(required)
