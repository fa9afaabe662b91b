"""Lifecycle as data (the stages a use case moves through and the moves the CoE allows), and
the risk classification with its register."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from approvals.choices import (
    AIActRoleChoices,
    RiskCategoryChoices,
    RiskEntryStatusChoices,
    RiskLevelChoices,
    StageKindChoices,
)
from inventory.choices import RiskTierChoices
from portal.models import AppendOnlyError
from portal.querysets import AuditedQuerySet


class LifecycleStage(models.Model):
    """A stage of the lifecycle. The default set is proposed → pilot → production → retired."""

    key = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=80)
    kind = models.CharField(max_length=StageKindChoices.max_length(), choices=StageKindChoices)
    order = models.PositiveSmallIntegerField(help_text="Position in funnels and lists.")
    colour = models.CharField(max_length=20, default="grey")
    description = models.TextField(blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return self.label


class LifecycleTransition(models.Model):
    """An allowed move between two stages; a gated move needs an approved request first."""

    from_stage = models.ForeignKey(LifecycleStage, on_delete=models.CASCADE, related_name="transitions_out")
    to_stage = models.ForeignKey(LifecycleStage, on_delete=models.CASCADE, related_name="transitions_in")
    requires_gate = models.BooleanField(
        default=True, help_text="The move happens only when a gate request for it is approved."
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["from_stage__order", "to_stage__order"]
        constraints = [
            models.UniqueConstraint(fields=["from_stage", "to_stage"], name="lifecycle_transition_unique"),
            models.CheckConstraint(
                condition=~models.Q(from_stage=models.F("to_stage")), name="lifecycle_transition_not_loop"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_stage} → {self.to_stage}"


#
# Risk classification and the risk register
#


class RiskAssessment(models.Model):
    """One answered EU AI Act questionnaire for a use case and the tier it yields.

    Append-only: a new answer is a new version (``approvals.services.risk_assessment_record``);
    a saved version is never changed.
    """

    use_case = models.ForeignKey(
        "inventory.UseCase", on_delete=models.CASCADE, related_name="risk_assessments"
    )
    version = models.PositiveIntegerField()
    catalog_version = models.CharField(max_length=20, help_text="The questionnaire version answered.")
    answers = models.JSONField(default=dict)
    tier = models.CharField(max_length=RiskTierChoices.max_length(), choices=RiskTierChoices)
    reasons = models.JSONField(default=list, help_text="Why the tier is what it is, with legal references.")
    duties = models.JSONField(default=list, help_text="What follows from the tier and the role.")
    role = models.CharField(max_length=AIActRoleChoices.max_length(), choices=AIActRoleChoices)
    is_gpai = models.BooleanField(default=False, help_text="Provides a general-purpose AI model.")
    exemption_rationale = models.TextField(blank=True, help_text="The Art 6(3) rationale, as written.")
    genai_risks = models.JSONField(default=list, blank=True, help_text="NIST AI 600-1 risk tags.")
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assessed_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["use_case", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["use_case", "version"], name="risk_assessment_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.use_case.key} risk assessment v{self.version}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("A risk assessment is never changed: record a new version instead.")
        super().save(*args, **kwargs)

    @property
    def tier_colour(self) -> str:
        return RiskTierChoices.colour(self.tier)

    @property
    def genai_risk_options(self):
        from approvals.risk_catalog import GENAI_RISKS

        return [option for option in GENAI_RISKS if option.value in self.genai_risks]


SCORE_VALIDATORS = [MinValueValidator(1), MaxValueValidator(5)]


class RiskRegisterEntry(models.Model):
    """A risk of one use case: likelihood x severity before and after mitigation, an owner and a
    review date."""

    use_case = models.ForeignKey("inventory.UseCase", on_delete=models.CASCADE, related_name="risk_entries")
    title = models.CharField(max_length=200, help_text="The risk in a few words.")
    description = models.TextField(blank=True, help_text="What could happen, to whom, and why.")
    category = models.CharField(max_length=RiskCategoryChoices.max_length(), choices=RiskCategoryChoices)
    likelihood = models.PositiveSmallIntegerField(
        validators=SCORE_VALIDATORS, help_text="1 rare … 5 almost certain, before mitigation."
    )
    severity = models.PositiveSmallIntegerField(
        validators=SCORE_VALIDATORS, help_text="1 negligible … 5 severe, before mitigation."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="risk_entries_owned",
        help_text="Who answers for treating this risk.",
    )
    mitigation = models.TextField(blank=True, help_text="What is done, or will be done, to reduce it.")
    residual_likelihood = models.PositiveSmallIntegerField(
        validators=SCORE_VALIDATORS, help_text="Likelihood once the mitigation works (1-5)."
    )
    residual_severity = models.PositiveSmallIntegerField(
        validators=SCORE_VALIDATORS, help_text="Severity once the mitigation works (1-5)."
    )
    review_date = models.DateField(
        null=True,
        blank=True,
        help_text="When it is looked at again; required for open high or critical risks.",
    )
    status = models.CharField(
        max_length=RiskEntryStatusChoices.max_length(),
        choices=RiskEntryStatusChoices,
        default=RiskEntryStatusChoices.OPEN,
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["use_case", "-created_at"]
        verbose_name_plural = "risk register entries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(likelihood__range=(1, 5), severity__range=(1, 5)),
                name="risk_entry_inherent_range",
            ),
            models.CheckConstraint(
                condition=models.Q(residual_likelihood__range=(1, 5), residual_severity__range=(1, 5)),
                name="risk_entry_residual_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def inherent_score(self) -> int:
        return self.likelihood * self.severity

    @property
    def residual_score(self) -> int:
        return self.residual_likelihood * self.residual_severity

    @property
    def inherent_level(self) -> str:
        return RiskLevelChoices.for_score(self.inherent_score)

    @property
    def residual_level(self) -> str:
        return RiskLevelChoices.for_score(self.residual_score)

    @property
    def inherent_level_label(self) -> str:
        return RiskLevelChoices.label(self.inherent_level)

    @property
    def residual_level_label(self) -> str:
        return RiskLevelChoices.label(self.residual_level)

    @property
    def inherent_colour(self) -> str:
        return RiskLevelChoices.colour(self.inherent_level)

    @property
    def residual_colour(self) -> str:
        return RiskLevelChoices.colour(self.residual_level)

    @property
    def status_colour(self) -> str:
        return RiskEntryStatusChoices.colour(self.status)

    def clean(self) -> None:
        scores = (self.likelihood, self.severity, self.residual_likelihood, self.residual_severity)
        if not all(isinstance(score, int) and 1 <= score <= 5 for score in scores):
            return  # the field validators name the score that is out of range
        errors = {}
        if self.residual_likelihood > self.likelihood:
            errors["residual_likelihood"] = (
                f"The residual likelihood ({self.residual_likelihood}) may not exceed the likelihood "
                f"before mitigation ({self.likelihood})."
            )
        if self.residual_severity > self.severity:
            errors["residual_severity"] = (
                f"The residual severity ({self.residual_severity}) may not exceed the severity before "
                f"mitigation ({self.severity})."
            )
        if (
            self.status == RiskEntryStatusChoices.OPEN
            and self.inherent_level in (RiskLevelChoices.HIGH, RiskLevelChoices.CRITICAL)
            and self.review_date is None
        ):
            errors["review_date"] = (
                f"An open {self.inherent_level_label.lower()} risk (score {self.inherent_score}) needs a "
                "review date."
            )
        if self.status == RiskEntryStatusChoices.MITIGATED and not self.mitigation.strip():
            errors["mitigation"] = "Say how the risk was mitigated before marking it mitigated."
        if errors:
            raise ValidationError(errors)
