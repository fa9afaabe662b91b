"""Models of the shared plumbing: people, job runs and API tokens."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse
from django.utils import timezone

from portal.choices import (
    ActorKindChoices,
    AuditActionChoices,
    ChannelChoices,
    ChoiceSet,
    JobStatusChoices,
    NotificationChannelChoices,
)
from portal.querysets import AuditedQuerySet

#
# The audit trail
#


class AppendOnlyError(Exception):
    """Raised when code tries to change a record that is written once: an audit entry, an
    assessment version, a decision, an event."""


class AppendOnlyModel(models.Model):
    """A row that is written once. Saving it again raises :class:`AppendOnlyError` with
    ``append_only_message``, which says what to do instead."""

    append_only_message = "This record is never changed."

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError(self.append_only_message)
        super().save(*args, **kwargs)


class AuditEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("The audit trail is append-only: entries cannot be updated.")

    def delete(self):
        raise AppendOnlyError("The audit trail is append-only: entries cannot be deleted.")

    _raw_delete = delete


class AuditEntry(models.Model):
    """One recorded event: who did what to which object, when, through which channel.

    Append-only. Each entry stores the SHA-256 of the previous entry's hash and its own
    canonical content, so any later edit or removal breaks the chain at that entry
    (``propylon verify_audit_trail``). On PostgreSQL a trigger refuses UPDATE and DELETE.
    References to people, tokens and jobs carry no database constraint: an entry must
    outlive what it mentions, and nothing may cascade into it.
    """

    time = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=AuditActionChoices.max_length(), choices=AuditActionChoices)
    actor_kind = models.CharField(max_length=ActorKindChoices.max_length(), choices=ActorKindChoices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=200)
    token = models.ForeignKey(
        "portal.ApiToken",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    job_run = models.ForeignKey(
        "portal.JobRun",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    channel = models.CharField(max_length=ChannelChoices.max_length(), choices=ChannelChoices)
    request_id = models.UUIDField(null=True, blank=True, db_index=True)
    content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True, help_text="{field: {before, after}}")
    message = models.TextField(blank=True)
    extra = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["content_type", "object_id", "id"], name="audit_object"),
            models.Index(fields=["action", "time"], name="audit_action_time"),
            models.Index(fields=["actor", "time"], name="audit_actor_time"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_repr}".strip()

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("The audit trail is append-only: entries cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The audit trail is append-only: entries cannot be deleted.")

    @property
    def action_colour(self) -> str:
        return AuditActionChoices.colour(self.action)


#
# People
#


class AuditedUserManager(UserManager.from_queryset(AuditedQuerySet)):
    """Django's user manager over the audited queryset, so bulk changes to people are recorded."""


class User(AbstractUser):
    """A person (or a service account) who signs in to Propylon.

    Directory sync deactivates people who leave; they keep their history, and everything they
    own becomes *orphaned* until someone is reassigned.
    """

    title = models.CharField(max_length=120, blank=True, help_text="Job title, shown next to the name.")

    objects = AuditedUserManager()

    class Meta(AbstractUser.Meta):
        ordering = ["username"]
        swappable = "AUTH_USER_MODEL"

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


#
# Jobs
#


class JobRun(models.Model):
    """One execution of a background job: what ran, for whom, how far it got and how it ended."""

    task_name = models.CharField(max_length=200, db_index=True)
    label = models.CharField(max_length=200)
    status = models.CharField(
        max_length=JobStatusChoices.max_length(),
        choices=JobStatusChoices,
        default=JobStatusChoices.QUEUED,
        db_index=True,
    )
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=300, blank=True)
    arguments = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="job_runs"
    )
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who asked, kept if the user goes.")
    channel = models.CharField(
        max_length=ChannelChoices.max_length(), choices=ChannelChoices, default=ChannelChoices.SYSTEM
    )
    celery_task_id = models.CharField(max_length=64, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A running job's worker touches heartbeat_at every PROPYLON_JOB_HEARTBEAT_SECONDS: a run
    # whose heartbeat stopped has lost its worker (portal.jobs.fail_stale_job_runs).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the process running it.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="jobrun_status_created")]

    def __str__(self) -> str:
        return f"{self.label} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("jobs:detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in JobStatusChoices.FINISHED

    @property
    def status_colour(self) -> str:
        return JobStatusChoices.colour(self.status)

    @property
    def duration(self) -> timedelta | None:
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class JobLogLevel(ChoiceSet):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    CHOICES = [(INFO, "Info", "grey"), (WARNING, "Warning", "amber"), (ERROR, "Error", "red")]


class JobLogLine(models.Model):
    """A line a job wrote while it ran; appended, never edited."""

    job = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="log_lines")
    time = models.DateTimeField(default=timezone.now)
    level = models.CharField(
        max_length=JobLogLevel.max_length(), choices=JobLogLevel, default=JobLogLevel.INFO
    )
    message = models.TextField()

    class Meta:
        ordering = ["job", "id"]

    def __str__(self) -> str:
        return f"[{self.level}] {self.message[:60]}"


#
# API tokens
#


class TokenScope(ChoiceSet):
    READ = "read"
    WRITE = "write"
    TELEMETRY_INGEST = "telemetry:ingest"
    DEPLOYMENTS_CALLBACK = "deployments:callback"
    SIGNALS_INGEST = "signals:ingest"

    CHOICES = [
        (READ, "Read", "blue"),
        (WRITE, "Write", "violet"),
        (TELEMETRY_INGEST, "Post GPU telemetry", "teal"),
        (DEPLOYMENTS_CALLBACK, "Report deployment status", "teal"),
        (SIGNALS_INGEST, "Post monitoring signals", "teal"),
    ]

    PERSONAL = frozenset({READ, WRITE})


class TokenKind(ChoiceSet):
    PERSONAL = "personal"
    MACHINE = "machine"

    CHOICES = [(PERSONAL, "Personal", "blue"), (MACHINE, "Machine", "teal")]


TOKEN_PREFIX = "pyl_"  # noqa: S105  (a public prefix that makes leaked keys greppable, not a secret)


def hash_token_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """An API credential. Only its SHA-256 is stored; the key is shown once when created."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'CI deploy callback'.")
    kind = models.CharField(max_length=TokenKind.max_length(), choices=TokenKind, default=TokenKind.PERSONAL)
    scopes = models.JSONField(default=list, help_text="Scopes the token carries.")
    key_prefix = models.CharField(max_length=16, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def generate_key() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


#
# Notifications (portal.notifications): one row per recipient and channel, delivered once
#


class Notification(models.Model):
    """One message to one person by email, or to one team chat webhook.

    ``key`` makes it idempotent: the same event notified twice (a retried job, a second scan)
    finds the existing row and sends nothing more. ``sent_at`` is set once it went out.
    """

    key = models.CharField(
        max_length=255, unique=True, help_text="Idempotency key: event, recipient, channel."
    )
    channel = models.CharField(
        max_length=NotificationChannelChoices.max_length(), choices=NotificationChannelChoices
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True, help_text="Path or URL of the page it is about.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, help_text="Why the last delivery attempt failed.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "-created_at"], name="notification_recipient")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.subject}"

    @property
    def is_sent(self) -> bool:
        return self.sent_at is not None
