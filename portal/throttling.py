"""Failed sign-in throttling, counted from the audit trail.

Failed sign-ins are already recorded (with the username tried and the client address), so the
throttle needs no cache and holds across every web process: too many failures for one username,
or from one address, within the window locks further attempts until the window has passed.
"""

import math
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from portal.signals import client_address


def login_lockout_remaining(*, username: str, request) -> int:
    """Minutes until sign-in may be tried again; 0 when it may be tried now."""
    window = timedelta(minutes=settings.PROPYLON_LOGIN_LOCKOUT_MINUTES)
    since = timezone.now() - window
    failures = AuditEntry.objects.filter(action=AuditActionChoices.LOGIN_FAILED, time__gte=since)
    by_username = failures.filter(extra__username=username[:150]) if username else failures.none()
    address = client_address(request)
    by_address = failures.filter(extra__ip=address) if address else failures.none()
    blocking = None
    for queryset, limit in (
        (by_username, settings.PROPYLON_LOGIN_MAX_FAILURES_PER_USERNAME),
        (by_address, settings.PROPYLON_LOGIN_MAX_FAILURES_PER_ADDRESS),
    ):
        times = list(queryset.order_by("-time").values_list("time", flat=True)[:limit])
        if len(times) >= limit:
            # Locked until the oldest of the last `limit` failures leaves the window.
            unlock = times[-1] + window
            blocking = unlock if blocking is None else max(blocking, unlock)
    if blocking is None:
        return 0
    return max(1, math.ceil((blocking - timezone.now()).total_seconds() / 60))
