"""Sign-in, sign-out and failed sign-in go to the audit trail."""

import ipaddress

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal import audit
from portal.choices import ActorKindChoices, AuditActionChoices, ChannelChoices


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted_proxy(address) -> bool:
    return address is not None and any(address in network for network in settings.PROPYLON_TRUSTED_PROXIES)


def client_address(request) -> str:
    """The client's address as far as it can be believed.

    ``REMOTE_ADDR`` is the peer that opened the connection. Only when that peer is one of
    ``PROPYLON_TRUSTED_PROXIES`` is ``X-Forwarded-For`` read, from the right: each trusted proxy
    appended the address it received the request from, so the right-most entry that is not
    itself a trusted proxy is the client. Entries left of it are whatever the client claimed;
    a peer that is not a trusted proxy (someone reaching gunicorn directly) is believed about
    nothing but itself."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "")[:64]
    hop = _parse_address(remote)
    if not _is_trusted_proxy(hop):
        return remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for entry in reversed(forwarded):
        address = _parse_address(entry)
        if address is None:
            # Garbage the last trusted hop passed on: that hop is the last address we can vouch for.
            break
        hop = address
        if not _is_trusted_proxy(address):
            break
    return str(hop)[:64]


def _request_actor(request, user, kind=ActorKindChoices.USER) -> audit.Actor:
    return audit.Actor(
        kind=kind,
        label=user.get_username() if user is not None else "anonymous",
        channel=ChannelChoices.UI,
        user=user,
        request_id=getattr(request, "id", None),
    )


@receiver(user_logged_in, dispatch_uid="audit-login")
def record_login(sender, request, user, **kwargs):
    audit.record(
        AuditActionChoices.LOGIN,
        obj=user,
        extra={"ip": client_address(request)},
        actor=_request_actor(request, user),
    )


@receiver(user_logged_out, dispatch_uid="audit-logout")
def record_logout(sender, request, user, **kwargs):
    if user is None:
        return
    audit.record(AuditActionChoices.LOGOUT, obj=user, actor=_request_actor(request, user))


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def record_login_failure(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    audit.record(
        AuditActionChoices.LOGIN_FAILED,
        message=f"Failed sign-in for “{username}”",
        extra={"username": username, "ip": client_address(request)},
        actor=_request_actor(request, None, kind=ActorKindChoices.ANONYMOUS),
    )
