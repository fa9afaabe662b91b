"""What use cases are built from: models, prompts, datasets, data sources, shared components,
and the releases that pin one version of each (what gets assessed, approved and deployed)."""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from inventory.choices import DataSensitivityChoices, EnvironmentKindChoices, ModelProviderChoices
from inventory.models.organisation import validate_unreserved_slug
from portal.querysets import AuditedQuerySet

# It checks the stored, normalised form (lowercase, no prefix: inventory.services.catalog._digest), but
# the message is read by people who typed the digest, so it says what they may type.
sha256_validator = RegexValidator(
    r"^[0-9a-f]{64}$",
    "A SHA-256 digest is 64 hexadecimal characters (0-9 and a-f, capitals accepted), "
    "optionally prefixed with “sha256:”.",
)


class TeamOwned(models.Model):
    """An asset a team owns and maintains; other teams may see and reuse it."""

    slug = models.SlugField(
        max_length=80,
        unique=True,
        validators=[validate_unreserved_slug],
        help_text="Stable key for URLs and imports.",
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owning_team = models.ForeignKey("inventory.Team", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Component(TeamOwned):
    """A shared, reusable part (a retrieval layer, a deployment pipeline) use cases depend on."""

    repository_url = models.URLField(blank=True, max_length=500)

    class Meta(TeamOwned.Meta):
        pass


class DataSource(TeamOwned):
    """A system of record data comes from (a CRM, the document store, a warehouse table)."""

    system = models.CharField(max_length=200, help_text="The system and object, e.g. “Salesforce: Case”.")
    sensitivity = models.CharField(
        max_length=DataSensitivityChoices.max_length(), choices=DataSensitivityChoices
    )

    class Meta(TeamOwned.Meta):
        pass


class Model(TeamOwned):
    """A machine-learning or foundation model, in house or from a provider."""

    provider = models.CharField(max_length=ModelProviderChoices.max_length(), choices=ModelProviderChoices)
    vendor = models.CharField(max_length=120, blank=True, help_text="Who makes it, for external models.")
    registry_url = models.URLField(blank=True, max_length=500, help_text="Its page in the model registry.")

    class Meta(TeamOwned.Meta):
        pass


class ModelVersion(models.Model):
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=80)
    artifact_uri = models.CharField(max_length=500, blank=True, help_text="Where the weights or image live.")
    sha256 = models.CharField(
        max_length=64, blank=True, validators=[sha256_validator], help_text="Digest of the artifact."
    )
    registry_url = models.URLField(blank=True, max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["model", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["model", "version"], name="model_version_unique")]

    def __str__(self) -> str:
        return f"{self.model.name} {self.version}"


class PromptTemplate(TeamOwned):
    class Meta(TeamOwned.Meta):
        pass


class PromptVersion(models.Model):
    template = models.ForeignKey(PromptTemplate, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=80)
    content = models.TextField()
    content_sha256 = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["template", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["template", "version"], name="prompt_version_unique")]

    def __str__(self) -> str:
        return f"{self.template.name} {self.version}"

    def save(self, *args, **kwargs):
        # The hash is what a release pins: the same text always has the same digest.
        self.content_sha256 = hashlib.sha256(self.content.encode()).hexdigest()
        super().save(*args, **kwargs)


class Dataset(TeamOwned):
    sensitivity = models.CharField(
        max_length=DataSensitivityChoices.max_length(), choices=DataSensitivityChoices
    )
    sources = models.ManyToManyField(DataSource, blank=True, related_name="datasets")

    class Meta(TeamOwned.Meta):
        pass


class DatasetVersion(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=80)
    location = models.CharField(max_length=500, blank=True, help_text="Where this version is stored.")
    sha256 = models.CharField(max_length=64, blank=True, validators=[sha256_validator])
    lineage = models.TextField(
        blank=True, help_text="How it was produced: sources, filters, joins, labelling."
    )
    derived_from = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="derivatives")
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["dataset", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["dataset", "version"], name="dataset_version_unique")]

    def __str__(self) -> str:
        return f"{self.dataset.name} {self.version}"

    @property
    def has_lineage(self) -> bool:
        return bool(self.lineage.strip()) or self.derived_from.exists()


class Environment(models.Model):
    """Where releases run (configured by admins; deployment targets attach to it later)."""

    slug = models.SlugField(max_length=60, unique=True, validators=[validate_unreserved_slug])
    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=EnvironmentKindChoices.max_length(), choices=EnvironmentKindChoices)
    description = models.TextField(blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def kind_colour(self) -> str:
        return EnvironmentKindChoices.colour(self.kind)


class ReleaseFrozen(ValidationError):
    """A release used by an approval or a deployment cannot change: approve a new one instead."""


class Release(models.Model):
    """One set of versions plus a code ref: what is assessed, approved and deployed.

    Immutable once an approval or deployment has used it (``frozen_at``), so an approval always
    covers exactly what was reviewed.
    """

    use_case = models.ForeignKey("inventory.UseCase", on_delete=models.CASCADE, related_name="releases")
    version = models.CharField(max_length=80, help_text="The release's name, e.g. 2026.11.1 or v3.")
    code_ref = models.CharField(max_length=200, help_text="Git commit, tag or image digest.")
    notes = models.TextField(blank=True, help_text="What changed, for reviewers.")
    model_versions = models.ManyToManyField(ModelVersion, blank=True, related_name="releases")
    prompt_versions = models.ManyToManyField(PromptVersion, blank=True, related_name="releases")
    dataset_versions = models.ManyToManyField(DatasetVersion, blank=True, related_name="releases")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    frozen_at = models.DateTimeField(
        null=True, blank=True, help_text="When an approval or deployment first used it."
    )
    frozen_reason = models.CharField(max_length=200, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["use_case", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["use_case", "version"], name="release_version_unique")]

    def __str__(self) -> str:
        return f"{self.use_case.key} {self.version}"

    PINNED_FIELDS = ("use_case_id", "version", "code_ref", "notes")

    def save(self, *args, **kwargs):
        if self.pk is not None:
            stored = Release.objects.filter(pk=self.pk).values("frozen_at", *self.PINNED_FIELDS).first()
            if stored and stored["frozen_at"] is not None:
                changed = [f for f in self.PINNED_FIELDS if stored[f] != getattr(self, f)]
                if changed:
                    raise ReleaseFrozen(
                        f"Release {self.version} was used by {self.frozen_reason or 'an approval'} and cannot "
                        f"change ({', '.join(changed)}); create a new release instead."
                    )
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return (
            reverse("inventory:usecase-detail", args=[self.use_case.key]) + f"?tab=releases#release-{self.pk}"
        )

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    def _pins(self) -> tuple[list, list, list]:
        # Through .all(), so that a list which prefetched the pins (the API's releases) reads them
        # from memory instead of asking per release. A release pins a handful of versions.
        return (
            list(self.model_versions.all()),
            list(self.prompt_versions.all()),
            list(self.dataset_versions.all()),
        )

    @property
    def pins_digests(self) -> bool:
        """It pins something, and every pinned version carries its digest (gates and the API read
        this). A release that pins nothing pins no digest: "all of none" must not read as true."""
        model_versions, prompt_versions, dataset_versions = self._pins()
        if not (model_versions or prompt_versions or dataset_versions):
            return False
        return (
            all(version.sha256 != "" for version in model_versions)
            and all(version.content_sha256 != "" for version in prompt_versions)
            and all(version.sha256 != "" for version in dataset_versions)
        )
