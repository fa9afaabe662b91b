"""Who owns what: business units and teams. Use cases and their assets join them later."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from portal.querysets import AuditedQuerySet

# Path segments the URLs use for pages of their own, so they cannot be an object's key.
RESERVED_SLUGS = frozenset({"new", "edit", "delete", "import", "export"})


def validate_unreserved_slug(value: str) -> None:
    if value in RESERVED_SLUGS:
        raise ValidationError(f"“{value}” is reserved; choose another key.")


class BusinessUnit(models.Model):
    """A part of the company that funds and answers for a set of teams."""

    slug = models.SlugField(
        max_length=60,
        unique=True,
        validators=[validate_unreserved_slug],
        help_text="Stable key used in URLs and imports.",
    )
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    head = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="business_units_headed",
        help_text="The executive accountable for this unit's AI portfolio.",
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("inventory:business-unit-detail", args=[self.slug])


class Team(models.Model):
    """A team that builds and runs use cases. Its group carries the team's object permissions."""

    slug = models.SlugField(
        max_length=60,
        unique=True,
        validators=[validate_unreserved_slug],
        help_text="Stable key used in URLs and imports.",
    )
    name = models.CharField(max_length=120, unique=True)
    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="teams")
    description = models.TextField(blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="teams_led",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")
    group = models.OneToOneField(
        Group,
        on_delete=models.PROTECT,
        related_name="team",
        help_text="Group that mirrors the membership; object permissions are granted to it.",
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("inventory:team-detail", args=[self.slug])

    @staticmethod
    def group_name_for(slug: str) -> str:
        return f"team:{slug}"
