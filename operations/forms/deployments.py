from django import forms

from inventory.models import Environment, Release


class DeploymentForm(forms.Form):
    """Deploy a release of one use case: its own releases only, any environment."""

    release = forms.ModelChoiceField(queryset=Release.objects.none(), empty_label=None)
    environment = forms.ModelChoiceField(queryset=Environment.objects.all(), empty_label=None)

    def __init__(self, *args, use_case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["release"].queryset = Release.objects.filter(use_case=use_case).order_by("-created_at")
        self.fields["release"].label_from_instance = lambda release: f"{release.version} ({release.code_ref})"
        self.fields["environment"].label_from_instance = lambda environment: (
            f"{environment.name} ({environment.get_kind_display().lower()})"
        )
