"""The unit of governance: the AI use case, who owns it, and what it should achieve."""

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from inventory.choices import (
    AIKindChoices,
    DataSensitivityChoices,
    HumanOversightChoices,
    KpiDirectionChoices,
    RiskTierChoices,
    VisibilityChoices,
)
from portal.querysets import AuditedQuerySet

KEY_PREFIX = "UC-"


class KeySequence(models.Model):
    """Hands out stable, human keys (UC-0042) without gaps from concurrent creation races."""

    name = models.CharField(max_length=40, unique=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_value}"

    @classmethod
    def next_value(cls, name: str) -> int:
        with transaction.atomic():
            sequence, _ = cls.objects.select_for_update().get_or_create(name=name)
            sequence.last_value += 1
            sequence.save(update_fields=["last_value"])
            return sequence.last_value

    @classmethod
    def advance_past(cls, name: str, value: int) -> None:
        """A key given explicitly (import, descriptor) must never be handed out again."""
        with transaction.atomic():
            sequence, _ = cls.objects.select_for_update().get_or_create(name=name)
            if sequence.last_value < value:
                sequence.last_value = value
                sequence.save(update_fields=["last_value"])


class UseCaseQuerySet(AuditedQuerySet):
    def with_ownership_health(self):
        """Annotate ``is_orphaned``: the accountable owner is inactive or not in the owning team."""
        memberships = apps.get_model("inventory", "Team").members.through
        owner_in_team = Exists(
            memberships.objects.filter(
                team_id=OuterRef("owning_team_id"), user_id=OuterRef("accountable_owner_id")
            )
        )
        return self.annotate(_owner_in_team=owner_in_team).annotate(
            is_orphaned=models.Case(
                models.When(Q(accountable_owner__is_active=False) | Q(_owner_in_team=False), then=True),
                default=False,
                output_field=models.BooleanField(),
            )
        )

    def orphaned(self):
        return self.with_ownership_health().filter(is_orphaned=True)

    def drafts(self):
        return self.filter(lifecycle_stage__isnull=True)

    def filed(self):
        return self.filter(lifecycle_stage__isnull=False)


# Generous limits that no real entry reaches; without them a 2 MB purpose or 10,000 tags were
# accepted, and every page, export and similarity check paid for them. Enforced by the model,
# so the pages, the API, the import and the descriptors all obey.
PURPOSE_MAX_LENGTH = 10_000
MAX_TAGS = 50
TAG_MAX_LENGTH = 64


def validate_tags(tags) -> None:
    if not isinstance(tags, list):
        return  # UseCase.clean() says what tags must be
    if len(tags) > MAX_TAGS:
        raise ValidationError(
            f"There are {len(tags):,} tags; at most {MAX_TAGS} are allowed.", code="max_tags"
        )
    long = [str(tag) for tag in tags if len(str(tag)) > TAG_MAX_LENGTH]
    if long:
        shown = long[0][:40] + "…"
        raise ValidationError(
            f"Each tag is at most {TAG_MAX_LENGTH} characters long; “{shown}” has {len(long[0]):,}.",
            code="tag_length",
        )


class UseCase(models.Model):
    """An AI use case: what it does, for whom, who owns it, how risky and how far along it is.

    A use case with no lifecycle stage is a draft: filed by its team but not yet submitted.
    """

    key = models.CharField(max_length=12, unique=True, editable=False, help_text="Stable key, e.g. UC-0042.")
    name = models.CharField(max_length=200, help_text="A short name people will recognise.")
    purpose = models.TextField(
        help_text="What it does and for whom, in two or three sentences. Duplicate detection reads this.",
        validators=[
            MaxLengthValidator(
                PURPOSE_MAX_LENGTH,
                message="The purpose is %(show_value)d characters long; at most %(limit_value)d are allowed. "
                "Keep it to a few paragraphs and link to longer documents.",
            )
        ],
    )
    business_unit = models.ForeignKey(
        "inventory.BusinessUnit", on_delete=models.PROTECT, related_name="use_cases"
    )
    owning_team = models.ForeignKey("inventory.Team", on_delete=models.PROTECT, related_name="use_cases")
    lifecycle_stage = models.ForeignKey(
        "approvals.LifecycleStage",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="use_cases",
        help_text="Empty while the use case is a draft.",
    )
    risk_tier = models.CharField(
        max_length=RiskTierChoices.max_length(), choices=RiskTierChoices, default=RiskTierChoices.UNASSESSED
    )
    ai_kind = models.CharField(max_length=AIKindChoices.max_length(), choices=AIKindChoices)
    customer_facing = models.BooleanField(
        default=False, help_text="Customers (not only employees) see its outputs or interact with it."
    )
    data_sensitivity = models.CharField(
        max_length=DataSensitivityChoices.max_length(),
        choices=DataSensitivityChoices,
        help_text="The most sensitive data it reads or produces.",
    )
    human_oversight = models.CharField(
        max_length=HumanOversightChoices.max_length(),
        choices=HumanOversightChoices,
        default=HumanOversightChoices.IN_THE_LOOP,
        help_text="How people supervise its outputs.",
    )
    visibility = models.CharField(
        max_length=VisibilityChoices.max_length(), choices=VisibilityChoices, default=VisibilityChoices.NORMAL
    )
    accountable_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="use_cases_accountable",
        help_text="The one person who answers for it. Must be in the owning team.",
    )
    technical_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    business_sponsor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data_steward = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalation_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    repository_url = models.URLField(blank=True, max_length=500, help_text="Where the code lives.")
    runbook_url = models.URLField(blank=True, max_length=500, help_text="How to operate it and recover it.")
    dashboard_url = models.URLField(blank=True, max_length=500, help_text="Where its health is watched.")
    tags = models.JSONField(
        default=list,
        blank=True,
        help_text="Free labels, e.g. search, rag, support.",
        validators=[validate_tags],
    )
    components = models.ManyToManyField(
        "inventory.Component", blank=True, related_name="use_cases", help_text="Shared parts it depends on."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    onboarding_attested = models.BooleanField(
        default=False,
        editable=False,
        help_text="It entered the lifecycle past intake by an attested onboarding (an import by an "
        "administrator or CoE lead), not through a gate; it shows “no approval on record” until it passes one.",
    )

    objects = UseCaseQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        indexes = [
            models.Index(fields=["owning_team", "key"], name="usecase_team_key"),
            models.Index(fields=["lifecycle_stage", "key"], name="usecase_stage_key"),
            models.Index(fields=["risk_tier"], name="usecase_risk_tier"),
            models.Index(fields=["accountable_owner"], name="usecase_owner"),
            models.Index(fields=["updated_at"], name="usecase_updated"),
        ]
        permissions = [("reassign_usecase", "Can reassign the owners of a use case")]

    def __str__(self) -> str:
        return f"{self.key} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("inventory:usecase-detail", args=[self.key])

    @property
    def is_draft(self) -> bool:
        return self.lifecycle_stage_id is None

    @property
    def is_restricted(self) -> bool:
        return self.visibility == VisibilityChoices.RESTRICTED

    @property
    def risk_tier_colour(self) -> str:
        return RiskTierChoices.colour(self.risk_tier)

    @property
    def sensitivity_colour(self) -> str:
        return DataSensitivityChoices.colour(self.data_sensitivity)

    @property
    def stage_label(self) -> str:
        return self.lifecycle_stage.label if self.lifecycle_stage_id else "Draft"

    @property
    def stage_colour(self) -> str:
        return self.lifecycle_stage.colour if self.lifecycle_stage_id else "grey"

    def clean(self) -> None:
        errors = {}
        if (
            self.owning_team_id
            and self.business_unit_id
            and self.owning_team.business_unit_id != self.business_unit_id
        ):
            errors["owning_team"] = "The owning team belongs to another business unit."
        if not isinstance(self.tags, list) or not all(isinstance(tag, str) for tag in self.tags):
            errors["tags"] = "Tags are a list of words."
        if errors:
            raise ValidationError(errors)


class NotDuplicate(models.Model):
    """Someone looked at two similar use cases and said they are not duplicates."""

    first = models.ForeignKey(UseCase, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(UseCase, on_delete=models.CASCADE, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=300, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="not_duplicate_pair_unique"),
            models.CheckConstraint(
                condition=Q(first__lt=models.F("second")), name="not_duplicate_ordered_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first.key} ≠ {self.second.key}"


class Kpi(models.Model):
    """What a use case should achieve, with a target (readings and value arrive with costs)."""

    use_case = models.ForeignKey(UseCase, on_delete=models.CASCADE, related_name="kpis")
    name = models.CharField(max_length=120, help_text="e.g. Tickets deflected per month.")
    unit = models.CharField(max_length=40, help_text="e.g. tickets, %, minutes.")
    target = models.DecimalField(max_digits=18, decimal_places=4)
    direction = models.CharField(
        max_length=KpiDirectionChoices.max_length(),
        choices=KpiDirectionChoices,
        default=KpiDirectionChoices.HIGHER_IS_BETTER,
    )
    value_per_unit = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Money one unit is worth (e.g. cost of a handled ticket), for value and ROI.",
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["use_case", "name"]
        constraints = [
            models.UniqueConstraint(fields=["use_case", "name"], name="kpi_name_unique_per_use_case")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.use_case.key})"


def lifecycle_stage_model() -> type[models.Model]:
    """The stage table ``UseCase.lifecycle_stage`` points at. Approvals owns it (the lifecycle and
    its gates); inventory reaches it through its own foreign key rather than importing the app
    above it. Call it once the app registry is ready."""
    return UseCase._meta.get_field("lifecycle_stage").related_model
