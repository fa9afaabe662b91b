"""Failed sign-in throttling, counted from the audit trail.

Failed sign-ins are already recorded (with the username tried and the client address), so the
throttle needs no cache and holds across every web process. Two rules, neither of which lets a
stranger lock someone else out:

- per (username, address) pair: after ``PROPYLON_LOGIN_FAILURES_BEFORE_DELAY`` failures in the
  window, each further attempt from that address for that account waits a delay that doubles
  with every failure (``PROPYLON_LOGIN_DELAY_SECONDS``, capped at ``PROPYLON_LOGIN_MAX_DELAY_MINUTES``).
  The same account from any other address is not delayed, so an attacker hammering ``cto``
  from one place slows only themselves.
- per address, across accounts: ``PROPYLON_LOGIN_MAX_FAILURES_PER_ADDRESS`` failures within
  ``PROPYLON_LOGIN_LOCKOUT_MINUTES`` stop that address until the oldest of them leaves the window
  (a looser limit that catches one address guessing many usernames).

There is deliberately no per-account lock: it is what let anyone lock out any account by name.
The address is :func:`portal.signals.client_address`, which believes ``X-Forwarded-For`` only
from ``PROPYLON_TRUSTED_PROXIES``.
"""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from portal.signals import client_address


def pair_delay(failures: int) -> timedelta:
    """How long one (account, address) pair waits after its ``failures``-th recent failure."""
    free = settings.PROPYLON_LOGIN_FAILURES_BEFORE_DELAY
    if failures < free:
        return timedelta(0)
    cap = settings.PROPYLON_LOGIN_MAX_DELAY_MINUTES * 60
    # Exponent capped before computing so a long history cannot overflow the float.
    seconds = settings.PROPYLON_LOGIN_DELAY_SECONDS * 2 ** min(failures - free, 32)
    return timedelta(seconds=min(seconds, cap))


def _pair_unlock(failures, username: str, address: str) -> datetime | None:
    if not username:
        return None
    pair = failures.filter(extra__username=username[:150], extra__ip=address)
    window = timedelta(hours=settings.PROPYLON_LOGIN_PAIR_WINDOW_HOURS)
    # Enough rows to reach the cap; counting further would not lengthen the delay.
    enough = settings.PROPYLON_LOGIN_FAILURES_BEFORE_DELAY + 40
    times = list(
        pair.filter(time__gte=timezone.now() - window)
        .order_by("-time")
        .values_list("time", flat=True)[:enough]
    )
    delay = pair_delay(len(times))
    return times[0] + delay if delay else None


def _address_unlock(failures, address: str) -> datetime | None:
    window = timedelta(minutes=settings.PROPYLON_LOGIN_LOCKOUT_MINUTES)
    limit = settings.PROPYLON_LOGIN_MAX_FAILURES_PER_ADDRESS
    times = list(
        failures.filter(extra__ip=address, time__gte=timezone.now() - window)
        .order_by("-time")
        .values_list("time", flat=True)[:limit]
    )
    if len(times) < limit:
        return None
    # Stopped until the oldest of the last `limit` failures leaves the window.
    return times[-1] + window


def login_wait_seconds(*, username: str, request) -> int:
    """Seconds until this sign-in may be tried; 0 when it may be tried now."""
    address = client_address(request)
    failures = AuditEntry.objects.filter(action=AuditActionChoices.LOGIN_FAILED)
    unlocks = [
        unlock
        for unlock in (_pair_unlock(failures, username, address), _address_unlock(failures, address))
        if unlock is not None
    ]
    if not unlocks:
        return 0
    return max(0, math.ceil((max(unlocks) - timezone.now()).total_seconds()))


def describe_wait(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
