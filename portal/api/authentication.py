"""`Authorization: Token <key>` (or `Bearer <key>`) authentication against hashed API tokens."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from portal import audit
from portal.choices import ActorKindChoices, AuditActionChoices, ChannelChoices
from portal.models import ApiToken, hash_token_key

# Writing last_used_at on every request would turn every read into a write; a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Token <key>'.")
        try:
            key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from None
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token_key(key)).first()
        now = timezone.now()
        # One message for unknown, revoked and expired keys: a caller learns nothing from the difference.
        if token is None or not token.is_usable(now) or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
            # Once a minute per token, like last_used_at: the trail shows when a token was in use
            # without one entry per request. Entries made by the request name the token anyway.
            audit.record(
                AuditActionChoices.TOKEN_USED,
                obj=token,
                extra={"method": request.method, "path": request.path[:200]},
                actor=audit.Actor(
                    kind=ActorKindChoices.TOKEN,
                    label=f"{token.user.get_username()} (token “{token.name}”)",
                    channel=ChannelChoices.API,
                    user=token.user,
                    token=token,
                    request_id=getattr(request, "id", None),
                ),
            )
        return token.user, token

    def authenticate_header(self, request) -> str:
        return "Token"
