"""OpenID Connect single sign-on on top of mozilla-django-oidc.

What Propylon adds: endpoints discovered from the issuer (cached), the issuer checked on every
ID token, people matched by username or e-mail, names and roles kept in step with the
directory's claims, failures recorded in the audit trail and shown as a message instead of an
error page. It is all off unless ``OIDC_CLIENT_ID`` is set.
"""

import logging
import time

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.views import View
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from portal import audit
from portal.choices import ActorKindChoices, AuditActionChoices, ChannelChoices
from portal.roles import ROLE_NAMES, role_groups

logger = logging.getLogger(__name__)

DISCOVERED_SETTINGS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
DISCOVERY_TTL_SECONDS = 3600
_discovery_cache: dict[str, tuple[float, dict]] = {}


def discover(issuer: str) -> dict:
    """The provider's metadata (/.well-known/openid-configuration), cached for an hour."""
    cached = _discovery_cache.get(issuer)
    if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_SECONDS:
        return cached[1]
    response = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT)
    response.raise_for_status()
    metadata = response.json()
    if metadata.get("issuer", "").rstrip("/") != issuer:
        raise ImproperlyConfigured(f"The provider at {issuer} says its issuer is {metadata.get('issuer')!r}.")
    _discovery_cache[issuer] = (time.monotonic(), metadata)
    return metadata


def oidc_setting(attr: str, *default):
    if attr in DISCOVERED_SETTINGS and not getattr(settings, attr, "") and settings.PROPYLON_OIDC_ISSUER:
        return discover(settings.PROPYLON_OIDC_ISSUER)[DISCOVERED_SETTINGS[attr]]
    return import_from_settings(attr, *default)


def roles_from_claims(claims: dict) -> set[str] | None:
    """The roles the directory grants, or None when the claim is absent (leave roles alone)."""
    groups = claims.get(settings.PROPYLON_OIDC_GROUPS_CLAIM)
    if groups is None:
        return None
    if isinstance(groups, str):
        groups = [groups]
    return {
        settings.PROPYLON_OIDC_ROLE_MAP[g]
        for g in groups
        if settings.PROPYLON_OIDC_ROLE_MAP.get(g) in ROLE_NAMES
    }


class PortalOIDCBackend(OIDCAuthenticationBackend):
    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        # Django builds every backend for every password sign-in too; the provider's settings
        # (and discovery, a network call) are read only when an SSO callback is handled.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        if request is None or not request.GET.get("code") or not request.GET.get("state"):
            return None
        super().__init__()
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        issuer = settings.PROPYLON_OIDC_ISSUER
        if issuer and str(payload.get("iss", "")).rstrip("/") != issuer:
            raise SuspiciousOperation("The ID token was issued by another provider.")
        audience = payload.get("aud")
        if self.OIDC_RP_CLIENT_ID not in (audience if isinstance(audience, list) else [audience]):
            raise SuspiciousOperation("The ID token was issued to another client.")
        return payload

    def verify_claims(self, claims) -> bool:
        return bool(claims.get("sub") and (claims.get("preferred_username") or claims.get("email")))

    def _username(self, claims) -> str:
        return str(claims.get("preferred_username") or claims["email"])[:150]

    def filter_users_by_claims(self, claims):
        users = self.UserModel.objects.filter(username=self._username(claims))
        if not users.exists() and claims.get("email"):
            users = self.UserModel.objects.filter(email__iexact=claims["email"])
        return users

    @transaction.atomic
    def create_user(self, claims):
        user = get_user_model().objects.create_user(self._username(claims), email=claims.get("email", ""))
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user, claims):
        changed = []
        for field, claim in (("first_name", "given_name"), ("last_name", "family_name"), ("email", "email")):
            value = str(claims.get(claim) or "")[:150]
            if value and getattr(user, field) != value:
                setattr(user, field, value)
                changed.append(field)
        if changed:
            user.save(update_fields=changed)
        granted = roles_from_claims(claims)
        if granted is not None:
            held = set(user.groups.filter(name__in=ROLE_NAMES).values_list("name", flat=True))
            if held - granted:
                user.groups.remove(*Group.objects.filter(name__in=held - granted))
            if granted - held:
                user.groups.add(*role_groups(*(granted - held)))
            user._propylon_roles = None
        return user


def _require_enabled() -> None:
    if not settings.PROPYLON_OIDC_ENABLED:
        raise Http404("Single sign-on is not configured.")


class SSOStartView(OIDCAuthenticationRequestView):
    get_settings = staticmethod(oidc_setting)

    def __init__(self, **kwargs):
        # The parent reads the provider's settings here; they are read in get() instead, where
        # an unreachable provider can be answered with a message.
        View.__init__(self, **kwargs)

    def get(self, request):
        _require_enabled()
        try:
            self.OIDC_OP_AUTH_ENDPOINT = self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")
            self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
            return super().get(request)
        except (requests.RequestException, ImproperlyConfigured, KeyError) as exc:
            logger.warning("SSO start failed: %s", exc)
            return redirect(settings.LOGIN_REDIRECT_URL_FAILURE)


class SSOCallbackView(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        _require_enabled()
        try:
            return super().get(request)
        except (requests.RequestException, SuspiciousOperation, ImproperlyConfigured, KeyError) as exc:
            logger.warning("SSO callback failed: %s", exc)
            return self.login_failure()

    def login_failure(self):
        audit.record(
            AuditActionChoices.LOGIN_FAILED,
            message="Single sign-on failed",
            extra={"sso": True, "error": self.request.GET.get("error", "")[:100]},
            actor=audit.Actor(
                kind=ActorKindChoices.ANONYMOUS,
                label="anonymous",
                channel=ChannelChoices.UI,
                request_id=getattr(self.request, "id", None),
            ),
        )
        return super().login_failure()
