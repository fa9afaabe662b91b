"""Lifecycle as data: the stages a use case moves through and the moves the CoE allows."""

from django.db import models

from approvals.choices import StageKindChoices
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
