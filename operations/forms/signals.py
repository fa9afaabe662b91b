"""The Health tab's threshold form (saved through operations.services.signals)."""

from django import forms

from inventory.models import Environment
from operations.choices import HealthMetricChoices
from operations.models import HealthThreshold


class HealthThresholdForm(forms.Form):
    metric = forms.ChoiceField(choices=HealthMetricChoices)
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.all(), required=False, empty_label="Every environment",
        help_text="A threshold for one environment wins over the one for every environment.",
    )  # fmt: skip
    minimum = forms.DecimalField(
        max_digits=20, decimal_places=6, required=False, help_text="Empty: no lower bound."
    )
    maximum = forms.DecimalField(
        max_digits=20, decimal_places=6, required=False, help_text="Empty: no upper bound."
    )
    stale_after_hours = forms.IntegerField(
        min_value=1, max_value=24 * 90, initial=24,
        help_text="A signal older than this counts as missing (the audit reports it).",
    )  # fmt: skip

    def __init__(self, *args, instance: HealthThreshold | None = None, **kwargs):
        if instance is not None:
            kwargs.setdefault(
                "initial",
                {
                    "metric": instance.metric,
                    "environment": instance.environment_id,
                    "minimum": instance.minimum,
                    "maximum": instance.maximum,
                    "stale_after_hours": instance.stale_after_hours,
                },
            )
        super().__init__(*args, **kwargs)
