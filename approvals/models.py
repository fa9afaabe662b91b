"""Lifecycle as data (the stages a use case moves through and the moves the CoE allows), and
the risk classification with its register."""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from approvals.catalogs.maturity import validate_check_keys
from approvals.catalogs.risk import GENAI_RISKS
from approvals.choices import (
    AIActRoleChoices,
    ApprovalEventChoices,
    ApprovalStatusChoices,
    AssessmentTriggerChoices,
    DecisionChoices,
    EvidenceKindChoices,
    FindingEventKindChoices,
    FindingStatusChoices,
    RiskCategoryChoices,
    RiskEntryStatusChoices,
    RiskLevelChoices,
    StageKindChoices,
)
from inventory.choices import RiskTierChoices
from portal.choices import ChannelChoices, JobStatusChoices, SeverityChoices
from portal.models import AppendOnlyError, AppendOnlyModel
from portal.querysets import AuditedQuerySet
from portal.roles import ROLE_LABELS, Role


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


class RiskAssessment(AppendOnlyModel):
    """One answered EU AI Act questionnaire for a use case and the tier it yields.

    Append-only: a new answer is a new version (``approvals.services.risk.risk_assessment_record``);
    a saved version is never changed.
    """

    append_only_message = "A risk assessment is never changed: record a new version instead."

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

    @property
    def tier_colour(self) -> str:
        return RiskTierChoices.colour(self.tier)

    @property
    def genai_risk_options(self):

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


#
# Maturity assessment (the rubric lives in approvals/catalogs/maturity.py, the scoring in
# approvals/services/maturity.py)
#

# Evidence files people attach: documents, images and plain data, never executables or HTML
# (served from MEDIA, so HTML would be a stored-XSS vector).
EVIDENCE_FILE_EXTENSIONS = ["pdf", "png", "jpg", "jpeg", "txt", "md", "csv", "json", "docx", "xlsx", "pptx"]
EVIDENCE_FILE_MAX_BYTES = 10 * 1024 * 1024


class MaturityEvidence(models.Model):
    """Something a person offers to show one maturity check is met: a link, a file or a note.

    Never edited: a correction is a withdrawal plus new evidence, so an approval that snapshotted
    the id and ``sha256`` can always tell whether what it saw is still what is there.
    """

    use_case = models.ForeignKey(
        "inventory.UseCase", on_delete=models.CASCADE, related_name="maturity_evidence"
    )
    check_key = models.CharField(
        max_length=80, help_text="The rubric check it supports, e.g. ownership.runbook."
    )
    kind = models.CharField(max_length=EvidenceKindChoices.max_length(), choices=EvidenceKindChoices)
    url = models.URLField(blank=True, max_length=500)
    file = models.FileField(
        upload_to="maturity-evidence/%Y/%m/",
        blank=True,
        max_length=300,
        validators=[FileExtensionValidator(EVIDENCE_FILE_EXTENSIONS)],
    )
    note = models.TextField(blank=True)
    sha256 = models.CharField(
        max_length=64, editable=False, help_text="Digest of the file bytes, or of the link or note text."
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["use_case", "check_key", "-added_at"]
        verbose_name_plural = "maturity evidence"
        indexes = [models.Index(fields=["use_case", "check_key"], name="maturity_evidence_check")]

    def __str__(self) -> str:
        return f"{self.use_case.key} {self.check_key} ({self.kind})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            stored = MaturityEvidence.objects.filter(pk=self.pk).values("withdrawn_at").first()
            # The only change evidence ever takes is its withdrawal (once).
            if stored is None or stored["withdrawn_at"] is not None or self.withdrawn_at is None:
                raise AppendOnlyError("Evidence is never changed: withdraw it and add new evidence.")
            kwargs["update_fields"] = ["withdrawn_at", "withdrawn_by"]
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None

    @property
    def kind_colour(self) -> str:
        return EvidenceKindChoices.colour(self.kind)

    def clean(self) -> None:
        given = {"url": bool(self.url), "file": bool(self.file), "note": bool(self.note.strip())}
        wanted = {EvidenceKindChoices.LINK: "url", EvidenceKindChoices.FILE: "file"}.get(self.kind, "note")
        if not given[wanted]:
            raise ValidationError(
                {wanted: f"{EvidenceKindChoices.label(self.kind)} evidence needs a {wanted}."}
            )
        extra = [name for name, present in given.items() if present and name != wanted]
        if extra:
            raise ValidationError(
                {
                    extra[
                        0
                    ]: f"Give one kind of evidence at a time; {extra[0]} is not part of {self.kind} evidence."
                }
            )


class MaturityAssessment(AppendOnlyModel):
    """One scoring of a use case against the maturity rubric.

    Append-only: a recompute that changes anything is a new version
    (``approvals.services.maturity.maturity_assess``); a saved version is never changed.
    """

    append_only_message = "A maturity assessment is never changed: record a new version instead."

    use_case = models.ForeignKey(
        "inventory.UseCase", on_delete=models.CASCADE, related_name="maturity_assessments"
    )
    version = models.PositiveIntegerField()
    rubric_version = models.CharField(max_length=20, help_text="The rubric version scored against.")
    readiness = models.DecimalField(
        max_digits=5, decimal_places=1, help_text="The lowest dimension score (the weakest link)."
    )
    level = models.PositiveSmallIntegerField(help_text="The named level the readiness reaches.")
    scores = models.JSONField(default=dict, help_text="Dimension key → score, as a decimal string.")
    results = models.JSONField(default=dict, help_text="Check key → status, points (decimal string) and why.")
    evidence_ids = models.JSONField(
        default=list, blank=True, help_text="Ids of the evidence that earned points."
    )
    trigger = models.CharField(
        max_length=AssessmentTriggerChoices.max_length(), choices=AssessmentTriggerChoices
    )
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assessed_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["use_case", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["use_case", "version"], name="maturity_assessment_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.use_case.key} maturity assessment v{self.version}"

    @property
    def trigger_label(self) -> str:
        return AssessmentTriggerChoices.label(self.trigger)


#
# Gates: policies per transition and risk tier, approval requests, decisions and events
#


class GatePolicy(models.Model):
    """What a gated move needs for use cases of one risk tier (or of any tier): the minimum
    readiness, the maturity checks and evidence that are mandatory, who approves and how many
    (``GateApproverRequirement`` rows), how long an approval stays valid and how long reviewers
    have. The CoE lead maintains them (``approvals.services.gates.gate_policy_save``)."""

    ANY_TIER = ""

    transition = models.ForeignKey(
        LifecycleTransition, on_delete=models.CASCADE, related_name="gate_policies"
    )
    risk_tier = models.CharField(
        max_length=RiskTierChoices.max_length(),
        choices=[(ANY_TIER, "Any tier"), *RiskTierChoices.pairs()],
        blank=True,
        default=ANY_TIER,
        help_text="The tier this policy is for; empty means any tier without a policy of its own.",
    )
    min_readiness = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="The lowest maturity readiness (the weakest dimension) that may ask for this gate.",
    )
    mandatory_checks = models.JSONField(
        default=list, blank=True, help_text="Maturity check keys that must be met (verified or evidenced)."
    )
    mandatory_evidence = models.JSONField(
        default=list,
        blank=True,
        help_text="Maturity check keys that need evidence attached by a person (a document, link or note).",
    )
    requires_risk_assessment = models.BooleanField(
        default=True, help_text="A risk assessment must exist before the request is submitted."
    )
    allows_conditions = models.BooleanField(default=True, help_text="Reviewers may approve with conditions.")
    blocked = models.BooleanField(
        default=False, help_text="No request can pass this gate (e.g. prohibited practices)."
    )
    validity_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Days an approval stays valid before it must be re-certified; empty: it does not expire.",
    )
    review_sla_days = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Business days (Monday to Friday) reviewers have before a request is overdue.",
    )
    description = models.TextField(blank=True, help_text="Why the policy asks what it asks.")
    updated_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["transition__from_stage__order", "transition__to_stage__order", "risk_tier"]
        verbose_name_plural = "gate policies"
        constraints = [
            models.UniqueConstraint(fields=["transition", "risk_tier"], name="gate_policy_unique_per_tier"),
            models.CheckConstraint(
                condition=models.Q(min_readiness__gte=0), name="gate_policy_readiness_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transition} ({self.tier_label})"

    def get_absolute_url(self) -> str:
        return reverse("approvals:gate-policy-edit", args=[self.pk])

    @property
    def tier_label(self) -> str:
        return "any tier" if self.risk_tier == self.ANY_TIER else RiskTierChoices.label(self.risk_tier)

    def quorum(self) -> dict[str, int]:
        """Approver role → how many distinct people of it must approve."""
        return {row.role: row.count for row in self.approver_requirements.all()}

    def clean(self) -> None:

        errors = {}
        for name in ("mandatory_checks", "mandatory_evidence"):
            try:
                setattr(self, name, validate_check_keys(getattr(self, name), field=name))
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if self.transition_id and not self.transition.requires_gate:
            errors["transition"] = (
                f"{self.transition} is not gated: a policy applies only to moves that need a gate."
            )
        if errors:
            raise ValidationError(errors)


# The roles a gate policy may ask approvals from; the CoE lead also counts as a CoE reviewer.
APPROVER_ROLES = (Role.COE_REVIEWER, Role.COE_LEAD, Role.SECURITY_REVIEWER, Role.LEGAL_REVIEWER)
ROLES_ELIGIBLE_FOR = {
    Role.COE_REVIEWER: (Role.COE_REVIEWER, Role.COE_LEAD),
    Role.COE_LEAD: (Role.COE_LEAD,),
    Role.SECURITY_REVIEWER: (Role.SECURITY_REVIEWER,),
    Role.LEGAL_REVIEWER: (Role.LEGAL_REVIEWER,),
}


class GateApproverRequirement(models.Model):
    """One row of a policy's quorum: ``count`` distinct people holding ``role`` must approve."""

    policy = models.ForeignKey(GatePolicy, on_delete=models.CASCADE, related_name="approver_requirements")
    role = models.CharField(max_length=40, choices=[(role, ROLE_LABELS[role]) for role in APPROVER_ROLES])
    count = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["policy", "role"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "role"], name="gate_requirement_role_unique"),
            models.CheckConstraint(condition=models.Q(count__gte=1), name="gate_requirement_count_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.count} x {ROLE_LABELS.get(self.role, self.role)}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


class ApprovalRequestQuerySet(AuditedQuerySet):
    @staticmethod
    def _overdue(now: datetime) -> models.Q:
        # The one rule (also ApprovalRequest.is_overdue): still pending after the review deadline.
        return models.Q(status=ApprovalStatusChoices.PENDING, due_at__lt=now)

    def overdue(self, now: datetime) -> "ApprovalRequestQuerySet":
        """Requests pending past their reviewers' deadline at ``now``."""
        return self.filter(self._overdue(now))

    def not_overdue(self, now: datetime) -> "ApprovalRequestQuerySet":
        return self.exclude(self._overdue(now))


class ApprovalRequest(models.Model):
    """A request to move one use case, with one release, through one gated transition.

    At submission it snapshots the policy, the scores (maturity vector, readiness, risk tier and
    assessment versions) and the evidence (ids and hashes), and freezes the release. Its status
    changes only through ``approvals.services.gates``; decisions and events are append-only rows.
    """

    use_case = models.ForeignKey(
        "inventory.UseCase", on_delete=models.CASCADE, related_name="approval_requests"
    )
    release = models.ForeignKey(
        "inventory.Release", on_delete=models.PROTECT, related_name="approval_requests"
    )
    transition = models.ForeignKey(
        LifecycleTransition, on_delete=models.PROTECT, related_name="approval_requests"
    )
    from_stage = models.ForeignKey(LifecycleStage, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(LifecycleStage, on_delete=models.PROTECT, related_name="+")
    policy = models.ForeignKey(GatePolicy, on_delete=models.PROTECT, related_name="approval_requests")
    status = models.CharField(
        max_length=ApprovalStatusChoices.max_length(),
        choices=ApprovalStatusChoices,
        default=ApprovalStatusChoices.PENDING,
    )
    round = models.PositiveSmallIntegerField(
        default=1, help_text="Resubmissions after requested changes start a new round of decisions."
    )
    summary = models.TextField(blank=True, help_text="What the requester wants reviewers to know.")
    snapshot = models.JSONField(default=dict, help_text="Policy, scores and evidence at (re)submission.")
    quorum = models.JSONField(default=dict, help_text="Approver role → count, copied from the policy.")
    conditions = models.TextField(blank=True, help_text="Conditions the approval was given under.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="approval_requests"
    )
    recertifies = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="recertifications",
        help_text="The approval this request renews.",
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(help_text="Reviewers' deadline (the policy's SLA in business days).")
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When an approval stops covering the release."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoke_reason = models.TextField(blank=True)

    objects = ApprovalRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="approval_request_status_due"),
            models.Index(fields=["use_case", "status"], name="approval_request_uc_status"),
            models.Index(fields=["status", "expires_at"], name="approval_request_expiry"),
        ]
        constraints = [
            # One open request per use case and target stage: reviewers never split their votes.
            models.UniqueConstraint(
                fields=["use_case", "to_stage"],
                condition=models.Q(status__in=["pending", "changes_requested"]),
                name="approval_request_one_open_per_target",
            )
        ]

    def __str__(self) -> str:
        return f"GR-{self.pk} {self.use_case.key} → {self.to_stage.label}"

    def get_absolute_url(self) -> str:
        return reverse("approvals:request-detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"GR-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in ApprovalStatusChoices.OPEN

    @property
    def status_label(self) -> str:
        return ApprovalStatusChoices.label(self.status)

    @property
    def status_colour(self) -> str:
        return ApprovalStatusChoices.colour(self.status)

    def move_to(self, status: str) -> None:
        """Set the status, if ApprovalStatusChoices.TRANSITIONS allows the move (the caller saves,
        inside its transaction). Every status write of approvals.services.gates goes through here."""
        if not ApprovalStatusChoices.may_move(self.status, status):
            raise ValidationError(
                f"{self.reference} cannot move from “{self.status_label}” to "
                f"“{ApprovalStatusChoices.label(status)}”."
            )
        self.status = status

    @property
    def is_overdue(self) -> bool:
        return self.status == ApprovalStatusChoices.PENDING and self.due_at < timezone.now()

    @property
    def is_valid_approval(self) -> bool:
        return self.status == ApprovalStatusChoices.APPROVED and (
            self.expires_at is None or self.expires_at > timezone.now()
        )


class ApprovalDecision(AppendOnlyModel):
    """One reviewer's decision in one round of a request. Never changed or deleted."""

    append_only_message = "A decision is never changed; a new round takes new decisions."

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    round = models.PositiveSmallIntegerField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    roles = models.JSONField(default=list, help_text="The approver roles the person held when deciding.")
    decision = models.CharField(max_length=DecisionChoices.max_length(), choices=DecisionChoices)
    comment = models.TextField(blank=True)
    conditions = models.TextField(blank=True)
    decided_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["request", "decided_at", "pk"]
        constraints = [
            # The database, not only the service, refuses a second vote from the same person.
            models.UniqueConstraint(
                fields=["request", "round", "decided_by"], name="approval_decision_one_per_round"
            )
        ]

    def __str__(self) -> str:
        return f"{self.request.reference} {DecisionChoices.label(self.decision)} by {self.decided_by}"

    @property
    def decision_label(self) -> str:
        return DecisionChoices.label(self.decision)

    @property
    def role_labels(self) -> list[str]:
        return [ROLE_LABELS.get(role, role) for role in self.roles]

    @property
    def decision_colour(self) -> str:
        return DecisionChoices.colour(self.decision)


class ApprovalComment(AppendOnlyModel):
    """A comment in a request's discussion; ``parent`` threads a reply. Never changed."""

    append_only_message = "A comment is never changed; add another one."

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["request", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.request.reference} comment by {self.author}"


class ApprovalEvent(AppendOnlyModel):
    """The typed, append-only history of a request: who did what, when, with which data."""

    append_only_message = "Approval events are never changed."

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=ApprovalEventChoices.max_length(), choices=ApprovalEventChoices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["request", "at", "pk"]
        indexes = [models.Index(fields=["kind", "at"], name="approval_event_kind_at")]

    def __str__(self) -> str:
        return f"{self.request.reference} {ApprovalEventChoices.label(self.kind)}"

    @property
    def kind_label(self) -> str:
        return ApprovalEventChoices.label(self.kind)

    @property
    def kind_colour(self) -> str:
        return ApprovalEventChoices.colour(self.kind)


#
# Audits and findings
#


class AuditRun(models.Model):
    """One execution of the registered audit checks (portal.auditing) over the portfolio or one
    use case. Its JobRun shows progress and log; the run keeps what it did."""

    job_run = models.OneToOneField(
        "portal.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_run"
    )
    use_case = models.ForeignKey(
        "inventory.UseCase",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="audit_runs",
        help_text="Empty: the whole portfolio.",
    )
    status = models.CharField(
        max_length=JobStatusChoices.max_length(), choices=JobStatusChoices, default=JobStatusChoices.RUNNING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(
        max_length=ChannelChoices.max_length(), choices=ChannelChoices, default=ChannelChoices.SYSTEM
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    checks_run = models.JSONField(default=list, blank=True, help_text="Ids of the checks this run executed.")
    # {"observed": n, "opened": n, "reopened": n, "updated": n, "cleared": n, "per_check": {...}}
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["use_case", "-started_at"], name="audit_run_scope_started")]

    def __str__(self) -> str:
        scope = self.use_case.key if self.use_case_id else "portfolio"
        return f"Audit #{self.pk} ({scope})"

    def get_absolute_url(self) -> str:
        return reverse("approvals:audit-run-detail", args=[self.pk])


class Finding(models.Model):
    """What an audit check found about one subject, kept under a stable key.

    ``key`` is ``"<check id>:<subject key>"``: a re-run updates ``last_seen_at`` instead of adding a
    row, and a finding whose condition no longer holds resolves itself (``cleared``). Status
    changes go through ``approvals.services.findings``; its history is :class:`FindingEvent`.
    """

    key = models.CharField(max_length=255, unique=True)
    check_id = models.CharField(max_length=80)
    subject_key = models.CharField(max_length=200)
    use_case = models.ForeignKey(
        "inventory.UseCase", null=True, blank=True, on_delete=models.CASCADE, related_name="findings"
    )
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    severity = models.CharField(max_length=SeverityChoices.max_length(), choices=SeverityChoices)
    status = models.CharField(
        max_length=FindingStatusChoices.max_length(),
        choices=FindingStatusChoices,
        default=FindingStatusChoices.OPEN,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_findings",
        help_text="Who must act: the use case's accountable owner. Empty: the CoE.",
    )
    owned_by_coe = models.BooleanField(
        default=False, help_text="The CoE owns it (an orphaned use case, a portfolio-wide finding)."
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    last_run = models.ForeignKey(
        AuditRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="findings_seen"
    )
    due_at = models.DateTimeField(help_text="First sighting plus the severity's remediation days.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    risk_accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    risk_accepted_until = models.DateTimeField(null=True, blank=True)
    risk_acceptance_reason = models.TextField(blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-last_seen_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "severity"], name="finding_status_severity"),
            models.Index(fields=["check_id", "status"], name="finding_check_status"),
            models.Index(fields=["use_case", "status"], name="finding_uc_status"),
            models.Index(fields=["owner", "status"], name="finding_owner_status"),
            models.Index(fields=["status", "due_at"], name="finding_status_due"),
        ]

    def __str__(self) -> str:
        return f"Finding #{self.pk}: {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("approvals:finding-detail", args=[self.pk])

    @property
    def is_live(self) -> bool:
        return self.status in FindingStatusChoices.LIVE

    @property
    def status_label(self) -> str:
        return FindingStatusChoices.label(self.status)

    @property
    def status_colour(self) -> str:
        return FindingStatusChoices.colour(self.status)

    @property
    def severity_label(self) -> str:
        return SeverityChoices.label(self.severity)

    @property
    def severity_colour(self) -> str:
        return SeverityChoices.colour(self.severity)

    def move_to(self, status: str) -> None:
        """Set the status if the table in FindingStatusChoices allows the move (callers save)."""
        if not FindingStatusChoices.may_move(self.status, status):
            raise ValidationError(
                f"A finding that is {FindingStatusChoices.label(self.status).lower()} cannot become "
                f"{FindingStatusChoices.label(status).lower()}."
            )
        self.status = status


class FindingEvent(AppendOnlyModel):
    """The append-only history of a finding: audits opening, reopening and clearing it, and what
    people did (acknowledge, resolve, accept the risk, comment)."""

    append_only_message = "Finding events are never changed."

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=FindingEventKindChoices.max_length(), choices=FindingEventKindChoices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    audit_run = models.ForeignKey(
        AuditRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    message = models.TextField(blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["finding", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.finding} {FindingEventKindChoices.label(self.kind)}"

    @property
    def kind_label(self) -> str:
        return FindingEventKindChoices.label(self.kind)

    @property
    def kind_colour(self) -> str:
        return FindingEventKindChoices.colour(self.kind)
