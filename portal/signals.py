"""Sign-in, sign-out and failed sign-in go to the audit trail."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal import audit
from portal.choices import ActorKindChoices, AuditActionChoices, ChannelChoices


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or behind a proxy (PROPYLON_USE_X_FORWARDED_FOR) the
    right-most X-Forwarded-For entry. Left-most entries are whatever the client claimed."""
    if request is None:
        return ""
    if settings.PROPYLON_USE_X_FORWARDED_FOR:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
        ]
        if forwarded:
            return forwarded[-1][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


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
