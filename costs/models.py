"""Where cost data comes from. Imports, allocation, GPU usage and budgets build on these."""

from django.db import models
from django.utils import timezone

from costs.choices import CostSourceKindChoices
from portal.querysets import AuditedQuerySet


class CostSource(models.Model):
    """A billing feed an admin configured: a FOCUS export, an AWS CUR or Cost Explorer."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=CostSourceKindChoices.max_length(), choices=CostSourceKindChoices)
    location = models.CharField(
        max_length=500,
        blank=True,
        help_text="Folder path or s3://bucket/prefix of the export; empty for uploads and Cost Explorer.",
    )
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
