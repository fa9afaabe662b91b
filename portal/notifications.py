"""Notifications: record once, deliver after commit, never twice.

::

    notify(key="gate-submitted:42:1", recipients=reviewers, subject="…", body="…", link="/gates/requests/42/")

:func:`notify` writes one :class:`~portal.models.Notification` per recipient by email, and one
per configured chat webhook (Slack, Microsoft Teams), each with an idempotency key derived from
``key``. A key that exists already is skipped: notifying the same event twice (a retried job, a
second scan, a redelivered message) sends nothing more. Delivery is a Celery task enqueued with
``delay_on_commit``, so a rolled-back transaction notifies nobody; the task locks the row and
does nothing if it was sent already.

Channels. Email goes through Django's email backend (``EMAIL_URL``; the console in
development). Webhooks are incoming webhooks configured by environment
(``PROPYLON_SLACK_WEBHOOK_URL``, ``PROPYLON_TEAMS_WEBHOOK_URL``) with a timeout
(``PROPYLON_WEBHOOK_TIMEOUT``, seconds); their URLs carry the secret, so they are never stored.
Failures are logged and kept on the row (``error``, ``attempts``); a worker retries a failed
delivery with backoff (``MAX_ATTEMPTS``). An eager run (no broker: the quick start) retries too,
in-process: ``PROPYLON_NOTIFICATION_EAGER_RETRIES`` more attempts right away, after a short pause
(``PROPYLON_NOTIFICATION_RETRY_BASE_SECONDS`` * 2^n), so a request waits on a failing chat service
a bounded time (attempts * ``PROPYLON_WEBHOOK_TIMEOUT`` plus the pauses).

Resending. An administrator resends failed notifications (the admin action "Resend selected failed
notifications", ``POST /api/notifications/<id>/resend/``): :func:`notification_resend` clears the
error and the attempt count and delivers again through the same task, which locks the row. A
notification that went out is never sent again: resending it is refused.
"""

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal import audit
from portal.choices import AuditActionChoices, NotificationChannelChoices
from portal.models import Notification

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
MAX_KEY_LENGTH = 200
SUBJECT_MAX_LENGTH = 200

__all__ = [
    "Message",
    "absolute_link",
    "configured_webhooks",
    "deliver",
    "deliver_notification",
    "notification_resend",
    "notify",
    "notify_many",
]


def configured_webhooks() -> dict[str, str]:
    """Channel → incoming webhook URL, for the chat channels configured."""
    hooks = {
        NotificationChannelChoices.SLACK: getattr(settings, "PROPYLON_SLACK_WEBHOOK_URL", ""),
        NotificationChannelChoices.TEAMS: getattr(settings, "PROPYLON_TEAMS_WEBHOOK_URL", ""),
    }
    return {channel: url for channel, url in hooks.items() if url}


def absolute_link(link: str) -> str:
    if not link or urlsplit(link).scheme:
        return link
    return settings.PROPYLON_BASE_URL.rstrip("/") + "/" + link.lstrip("/")


@dataclass(frozen=True)
class Message:
    """One notification to send to ``recipients`` (and the chat webhooks, with ``webhooks``)."""

    key: str
    recipients: Iterable
    subject: str
    body: str
    link: str = ""
    webhooks: bool = True


# Keys looked up per query, and rows written per statement (SQLite allows 32,766 variables).
LOOKUP_CHUNK = 5000
CREATE_BATCH = 2000


def notify(*, key: str, recipients: Iterable, subject: str, body: str, link: str = "",
           webhooks: bool = True) -> list[Notification]:  # fmt: skip
    """Record and enqueue this notification for each active recipient with an email address
    and, with ``webhooks``, for each configured chat webhook. Returns the rows created now
    (rows that existed under the same key are left alone)."""
    return notify_many([Message(key, recipients, subject, body, link, webhooks)])


def _rows(message: Message, hooks: dict) -> list[Notification]:
    key = message.key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"A notification key is 1-{MAX_KEY_LENGTH} characters (got {len(key)}).")
    subject = " ".join(message.subject.split())[:SUBJECT_MAX_LENGTH]
    wanted: list[tuple[str, str, object]] = []
    people = {person.pk: person for person in message.recipients if person is not None}
    for person in sorted(people.values(), key=lambda person: person.pk):
        if person.is_active and person.email:
            wanted.append((f"{key}:email:{person.pk}", NotificationChannelChoices.EMAIL, person))
    if message.webhooks:
        wanted.extend((f"{key}:{channel}", channel, None) for channel in hooks)
    return [
        Notification(
            key=row_key,
            channel=channel,
            recipient=person,
            subject=subject,
            body=message.body,
            link=message.link,
        )
        for row_key, channel, person in wanted
    ]


def notify_many(messages: Iterable[Message]) -> list[Notification]:
    """:func:`notify` for many messages at once, in a number of queries that does not grow with
    them (a nightly audit tells each of its owners): the keys that exist are read in chunks, the
    new rows written in batches. Returns the rows created now."""
    hooks = configured_webhooks()
    rows: dict[str, Notification] = {}
    for message in messages:
        for row in _rows(message, hooks):
            rows.setdefault(row.key, row)
    if not rows:
        return []
    keys = list(rows)
    existing: set[str] = set()
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        existing.update(Notification.objects.filter(key__in=chunk).values_list("key", flat=True))
    new = [row for key, row in rows.items() if key not in existing]
    try:
        with transaction.atomic():
            created = Notification.objects.bulk_create(new, batch_size=CREATE_BATCH)
    except IntegrityError:
        # Someone recorded one of these keys between the lookup and the write: one by one, so
        # each key is created once and only the rows created here are delivered.
        created = []
        for row in new:
            _notification, was_new = Notification.objects.get_or_create(
                key=row.key,
                defaults={
                    field: getattr(row, field)
                    for field in ("channel", "recipient", "subject", "body", "link")
                },
            )
            if was_new:
                created.append(_notification)
    for notification in created:
        deliver_notification.delay_on_commit(notification.pk)
    return created


@shared_task(name="portal.deliver_notification", bind=True, acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)  # fmt: skip
def deliver_notification(self, notification_id: int) -> None:
    """Send one notification; a redelivered or repeated message finds it sent and stops."""
    if deliver(notification_id):
        return
    if self.request.is_eager:
        _retry_in_process(notification_id)
        return
    notification = _failed(notification_id)
    if notification is not None and notification.attempts < MAX_ATTEMPTS:
        raise self.retry(countdown=60 * 2**notification.attempts, max_retries=MAX_ATTEMPTS)


def _failed(notification_id: int) -> Notification | None:
    """The notification if it is unsent and its last attempt failed (worth another try)."""
    return Notification.objects.filter(pk=notification_id, sent_at__isnull=True).exclude(error="").first()


def _retry_in_process(notification_id: int) -> None:
    """No broker to schedule a retry: try again here a few times, with short growing pauses."""
    retries = max(0, getattr(settings, "PROPYLON_NOTIFICATION_EAGER_RETRIES", 2))
    base = max(0.0, getattr(settings, "PROPYLON_NOTIFICATION_RETRY_BASE_SECONDS", 0.5))
    for retry in range(retries):
        notification = _failed(notification_id)
        if notification is None or notification.attempts >= MAX_ATTEMPTS:
            return
        time.sleep(base * 2**retry)
        if deliver(notification_id):
            return


def notification_resend(*, notification: Notification) -> Notification:
    """Deliver a failed notification again (after commit), its error and attempts cleared.

    A sent notification is refused: delivery is idempotent by key and a person never gets the
    same message twice. One not yet attempted (queued) is left to its pending delivery."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update(of=("self",)).get(pk=notification.pk)
        if notification.sent_at is not None:
            raise ValidationError(
                f"Notification #{notification.pk} was sent {notification.sent_at:%Y-%m-%d %H:%M} UTC; "
                "a sent notification is not sent again."
            )
        if not notification.error:
            raise ValidationError(
                f"Notification #{notification.pk} has not failed: its delivery is still pending."
            )
        previous = {"attempts": notification.attempts, "error": notification.error}
        notification.attempts = 0
        notification.error = ""
        notification.save(update_fields=["attempts", "error"])
        audit.record(
            AuditActionChoices.UPDATE,
            obj=notification,
            changes=audit.diff(previous, {"attempts": 0, "error": ""}),
            message="Resent a failed notification.",
        )
        deliver_notification.delay_on_commit(notification.pk)
    return notification


def deliver(notification_id: int) -> bool:
    """Deliver now; True when it went out in this call. The row stays locked while sending, so
    two workers given the same message never both send it."""
    with transaction.atomic():
        notification = (
            # of=self: PostgreSQL locks no row on the nullable side of an outer join (recipient).
            Notification.objects.select_for_update(of=("self",))
            .select_related("recipient")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None or notification.sent_at is not None:
            return False
        notification.attempts += 1
        try:
            _send(notification)
        except Exception as exc:
            # Whatever the channel raised (SMTP, HTTP, DNS, timeout): keep it on the row and in
            # the log; the caller's transaction and the person's request are not affected.
            notification.error = f"{type(exc).__name__}: {exc}"[:2000]
            notification.save(update_fields=["attempts", "error"])
            logger.warning(
                "notification #%s (%s) failed on attempt %s: %s",
                notification.pk,
                notification.channel,
                notification.attempts,
                notification.error,
            )
            return False
        notification.sent_at = timezone.now()
        notification.error = ""
        notification.save(update_fields=["attempts", "error", "sent_at"])
        return True


def _send(notification: Notification) -> None:
    link = absolute_link(notification.link)
    if notification.channel == NotificationChannelChoices.EMAIL:
        recipient = notification.recipient
        if recipient is None or not recipient.email:
            raise ValueError("the recipient has no email address")
        body = notification.body + (f"\n\nOpen in Propylon: {link}\n" if link else "\n")
        send_mail(
            notification.subject, body, settings.DEFAULT_FROM_EMAIL, [recipient.email], fail_silently=False
        )
        return
    url = configured_webhooks().get(notification.channel)
    if not url:
        raise ValueError(f"no {notification.get_channel_display()} URL is configured")
    payload = (slack_payload if notification.channel == NotificationChannelChoices.SLACK else teams_payload)(
        notification.subject, notification.body, link
    )
    post_json(url, payload)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(subject: str, body: str, link: str) -> dict:
    """A Slack incoming-webhook message: a fallback ``text`` plus a section block."""
    text = f"*{_slack_escape(subject)}*\n{_slack_escape(body)}"
    if link:
        text += f"\n<{link}|Open in Propylon>"
    return {"text": f"{subject}", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def teams_payload(subject: str, body: str, link: str) -> dict:
    """A Microsoft Teams (Workflows) incoming-webhook message carrying an Adaptive Card."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": subject, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": body, "wrap": True},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in Propylon", "url": link}] if link else [],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def post_json(url: str, payload: dict) -> None:
    """POST JSON with the configured timeout; a non-2xx answer is an error naming the status."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("webhook URLs must be http or https")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Propylon"},
        method="POST",
    )
    timeout = getattr(settings, "PROPYLON_WEBHOOK_TIMEOUT", 5.0)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            response.read(1024)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"the webhook answered HTTP {exc.code}") from None
