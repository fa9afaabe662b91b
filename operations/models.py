"""Deployment targets, deployments and health signals."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from inventory.models.organisation import validate_unreserved_slug
from operations.choices import (
    DeploymentEventKindChoices,
    DeploymentStatusChoices,
    DeploymentTargetKindChoices,
    HealthMetricChoices,
)
from portal.models import AppendOnlyModel
from portal.querysets import AuditedQuerySet


class DeploymentTarget(models.Model):
    """A pipeline that deploys releases to one environment, configured by admins.

    A target with a use case serves only that use case; one without serves every use case the
    environment has no dedicated target for. ``secret_encrypted`` holds the signing secret or API
    token encrypted with ``PROPYLON_SECRET_KEYS`` (operations.secrets); nothing ever shows it again.
    """

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True, validators=[validate_unreserved_slug])
    kind = models.CharField(
        max_length=DeploymentTargetKindChoices.max_length(), choices=DeploymentTargetKindChoices
    )
    environment = models.ForeignKey(
        "inventory.Environment", on_delete=models.PROTECT, related_name="deployment_targets"
    )
    use_case = models.ForeignKey(
        "inventory.UseCase",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deployment_targets",
        help_text="Empty: the environment's default target for every use case.",
    )
    url = models.URLField(
        max_length=500,
        help_text="Webhook URL, or the API base URL of GitHub, GitLab or the Argo CD server.",
    )
    # Per kind: GitHub {"repository": "org/repo", "workflow": "deploy.yml", "ref": "main"},
    # GitLab {"project": "123", "ref": "main"}, Argo CD {"application": "name"}.
    options = models.JSONField(default=dict, blank=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Signs status callbacks from the pipeline (the webhook kind signs both ways with ``secret``).
    callback_secret_encrypted = models.TextField(blank=True, editable=False)
    # A read-only API token for polling where the dispatch credential cannot read (a GitLab
    # trigger token starts pipelines but cannot see them).
    read_token_encrypted = models.TextField(blank=True, editable=False)
    timeout_seconds = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    enabled = models.BooleanField(default=True)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_result = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["environment", "name"]
        constraints = [
            # One enabled default per environment, and one enabled target per use case in it
            # (two constraints: SQLite has no NULLS NOT DISTINCT).
            models.UniqueConstraint(
                fields=["environment"],
                condition=Q(enabled=True, use_case__isnull=True),
                name="deployment_target_one_default",
            ),
            models.UniqueConstraint(
                fields=["environment", "use_case"],
                condition=Q(enabled=True, use_case__isnull=False),
                name="deployment_target_one_per_use_case",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("operations:target-detail", args=[self.slug])

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    @property
    def has_callback_secret(self) -> bool:
        return bool(self.callback_secret_encrypted)

    @property
    def has_read_token(self) -> bool:
        return bool(self.read_token_encrypted)

    @property
    def kind_label(self) -> str:
        return DeploymentTargetKindChoices.label(self.kind)

    @property
    def kind_colour(self) -> str:
        return DeploymentTargetKindChoices.colour(self.kind)


class Deployment(models.Model):
    """One request to run one release of a use case in one environment, through a target.

    Its id is the idempotency key every dispatch carries. ``dispatch_started_at`` is written and
    committed before the HTTP call, so a redelivered task knows a dispatch may have gone out and
    never sends a second one (invariant 6). ``is_current`` marks the release each environment
    runs now: exactly one succeeded deployment per (use case, environment).
    """

    use_case = models.ForeignKey("inventory.UseCase", on_delete=models.CASCADE, related_name="deployments")
    release = models.ForeignKey("inventory.Release", on_delete=models.PROTECT, related_name="deployments")
    environment = models.ForeignKey(
        "inventory.Environment", on_delete=models.PROTECT, related_name="deployments"
    )
    target = models.ForeignKey(
        DeploymentTarget, null=True, blank=True, on_delete=models.SET_NULL, related_name="deployments"
    )
    approval = models.ForeignKey(
        "approvals.ApprovalRequest",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deployments",
        help_text="The approval that covered the release (production environments).",
    )
    status = models.CharField(
        max_length=DeploymentStatusChoices.max_length(),
        choices=DeploymentStatusChoices,
        default=DeploymentStatusChoices.QUEUED,
    )
    is_current = models.BooleanField(default=False)
    rollback_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rollbacks",
        help_text="The deployment this one rolls back.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job_run = models.ForeignKey(
        "portal.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    dispatch_started_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    external_id = models.CharField(max_length=200, blank=True, help_text="The run's id at the target.")
    external_url = models.URLField(max_length=500, blank=True)
    message = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [
            models.Index(fields=["use_case", "environment", "-requested_at"], name="deployment_uc_env"),
            models.Index(fields=["status", "requested_at"], name="deployment_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["use_case", "environment"],
                condition=Q(is_current=True),
                name="deployment_one_current_per_environment",
            )
        ]

    def __str__(self) -> str:
        return f"Deployment #{self.pk}: {self.use_case.key} {self.release.version} → {self.environment}"

    def get_absolute_url(self) -> str:
        return reverse("operations:deployment-detail", args=[self.pk])

    @property
    def idempotency_key(self) -> str:
        return f"propylon-deployment-{self.pk}"

    @property
    def status_label(self) -> str:
        return DeploymentStatusChoices.label(self.status)

    @property
    def status_colour(self) -> str:
        return DeploymentStatusChoices.colour(self.status)

    def move_to(self, status: str) -> None:
        """Set the status if the table in DeploymentStatusChoices allows it (callers save)."""
        if status == self.status:
            return
        if not DeploymentStatusChoices.may_move(self.status, status):
            raise ValidationError(
                f"A deployment that is {DeploymentStatusChoices.label(self.status).lower()} cannot become "
                f"{DeploymentStatusChoices.label(status).lower()}."
            )
        self.status = status


class DeploymentEvent(AppendOnlyModel):
    """The append-only history of a deployment: requests, dispatches, callbacks, polls."""

    append_only_message = "Deployment events are never changed."

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(
        max_length=DeploymentEventKindChoices.max_length(), choices=DeploymentEventKindChoices
    )
    status = models.CharField(
        max_length=DeploymentStatusChoices.max_length(), choices=DeploymentStatusChoices
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["deployment", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.deployment} {DeploymentEventKindChoices.label(self.kind)}"

    @property
    def kind_label(self) -> str:
        return DeploymentEventKindChoices.label(self.kind)


class HealthSignal(models.Model):
    """One metric value a monitoring stack reported for a use case in an environment."""

    use_case = models.ForeignKey("inventory.UseCase", on_delete=models.CASCADE, related_name="health_signals")
    environment = models.ForeignKey(
        "inventory.Environment", on_delete=models.CASCADE, related_name="health_signals"
    )
    metric = models.CharField(max_length=HealthMetricChoices.max_length(), choices=HealthMetricChoices)
    value = models.DecimalField(max_digits=20, decimal_places=6)
    observed_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    token = models.ForeignKey(
        "portal.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-observed_at", "-pk"]
        indexes = [
            models.Index(
                fields=["use_case", "environment", "metric", "-observed_at"], name="health_signal_series"
            ),
            models.Index(fields=["-observed_at"], name="health_signal_observed"),
        ]
        constraints = [
            # The same point posted twice (an agent's retry) is one point.
            models.UniqueConstraint(
                fields=["use_case", "environment", "metric", "observed_at"], name="health_signal_point_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.use_case.key} {self.metric}={self.value} @ {self.observed_at:%Y-%m-%d %H:%M}"


class HealthThreshold(models.Model):
    """The acceptable range of one metric for one use case (in every environment, or one)."""

    use_case = models.ForeignKey(
        "inventory.UseCase", on_delete=models.CASCADE, related_name="health_thresholds"
    )
    environment = models.ForeignKey(
        "inventory.Environment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty: every environment.",
    )
    metric = models.CharField(max_length=HealthMetricChoices.max_length(), choices=HealthMetricChoices)
    minimum = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    maximum = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    stale_after_hours = models.PositiveIntegerField(
        default=24, help_text="A signal older than this counts as missing."
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["use_case", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["use_case", "metric"],
                condition=Q(environment__isnull=True),
                name="health_threshold_unique_everywhere",
            ),
            models.UniqueConstraint(
                fields=["use_case", "environment", "metric"],
                condition=Q(environment__isnull=False),
                name="health_threshold_unique_per_environment",
            ),
            models.CheckConstraint(
                condition=Q(minimum__isnull=False) | Q(maximum__isnull=False),
                name="health_threshold_has_a_bound",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.use_case.key} {HealthMetricChoices.label(self.metric)}"

    def breached_by(self, value) -> bool:
        return (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        )
