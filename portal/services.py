"""Writes with rules for the shared plumbing."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.models import ApiToken, TokenKind, TokenScope, hash_token_key
from portal.permissions import is_read_only

DEFAULT_TOKEN_DAYS = 90


def default_token_expiry() -> datetime:
    return timezone.now() + timedelta(days=DEFAULT_TOKEN_DAYS)


@transaction.atomic
def api_token_create(
    *,
    user,
    name: str,
    scopes: Iterable[str],
    kind: str = TokenKind.PERSONAL,
    expires_at: datetime | None = None,
    created_by=None,
) -> tuple[ApiToken, str]:
    """Create a token and return it with its key. The key is not stored and cannot be shown again."""
    scopes = sorted(set(scopes))
    unknown = [scope for scope in scopes if scope not in TokenScope.values()]
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope(s): {', '.join(unknown)}."})
    if not scopes:
        raise ValidationError({"scopes": "A token needs at least one scope."})
    if kind == TokenKind.PERSONAL and not set(scopes) <= TokenScope.PERSONAL:
        raise ValidationError({"scopes": "Personal tokens carry only the read and write scopes."})
    if is_read_only(user) and set(scopes) != {TokenScope.READ}:
        raise ValidationError({"scopes": "Auditors' tokens carry only the read scope."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    key = ApiToken.generate_key()
    token = ApiToken(
        user=user,
        name=name,
        kind=kind,
        scopes=scopes,
        key_prefix=key[:12],
        key_hash=hash_token_key(key),
        expires_at=expires_at,
        created_by=created_by,
    )
    token.full_clean()
    token.save()
    return token, key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
