"""The deployment target form. Its secrets are write-only: the fields are always empty, leaving
one empty keeps what is stored, and its “forget” box removes it."""

import json

from django import forms

from operations.models import DeploymentTarget
from operations.services.targets import SECRET_COLUMNS
from portal.permissions import restrict_form_fields

SECRET_FIELDS = {
    "secret": (
        "Secret or token",
        "Webhook: the HMAC signing secret. GitHub: a token with actions:write. GitLab: a pipeline trigger "
        "token. Argo CD: an account token allowed to sync.",
    ),
    "callback_secret": (
        "Callback signing secret",
        "Signs the pipeline's status callbacks (X-Propylon-Signature). Webhook targets may leave it empty: "
        "their secret signs both ways.",
    ),
    "read_token": (
        "Read token (GitLab)",
        "A project access token with read_api, so Propylon can poll the pipeline; without one, the "
        "pipeline reports only through its callback.",
    ),
}


class DeploymentTargetForm(forms.ModelForm):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="Webhook URL, or the API base URL of GitHub (https://api.github.com), GitLab or the Argo CD server.",
    )
    options = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono"}),
        help_text='JSON. GitHub: {"repository": "org/repo", "workflow": "deploy.yml", "ref": "main"}. '
        'GitLab: {"project": "123" or "group/project", "ref": "main"}. '
        'Argo CD: {"application": "name", "app_namespace": "…", "prune": false}. Webhook: {}.',
    )

    class Meta:
        model = DeploymentTarget
        fields = [
            "name",
            "slug",
            "kind",
            "environment",
            "use_case",
            "url",
            "options",
            "timeout_seconds",
            "enabled",
        ]
        labels = {"use_case": "Use case", "timeout_seconds": "Timeout (seconds)"}
        help_texts = {
            "slug": "The target's key in URLs and the API.",
            "enabled": "Deployments go only through enabled targets; one enabled target per environment and use "
            "case (and one default).",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from_instance = self.instance if self.instance.pk else None
        for name, (label, help_text) in SECRET_FIELDS.items():
            stored = bool(from_instance and getattr(from_instance, SECRET_COLUMNS[name]))
            self.fields[name] = forms.CharField(
                label=label,
                required=False,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text=("A value is stored (never shown); leave empty to keep it. " if stored else "")
                + help_text,
            )
            if stored:
                self.fields[f"forget_{name}"] = forms.BooleanField(
                    required=False, label=f"Forget the stored {label[0].lower()}{label[1:]}"
                )
        if not self.is_bound and from_instance is not None:
            self.initial["options"] = from_instance.options
        self.fields["use_case"].queryset = self.fields["use_case"].queryset.order_by("key")
        restrict_form_fields(self, user)

    def clean_options(self):
        return self.cleaned_data.get("options") or {}

    def validate_unique(self):
        # The service checks the one-enabled-target rules and says which target is in the way.
        pass

    def service_arguments(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        for name in SECRET_FIELDS:
            if self.cleaned_data.get(f"forget_{name}"):
                data[name] = ""
            elif value := self.cleaned_data.get(name):
                data[name] = value
        return data


def options_text(options: dict) -> str:
    return json.dumps(options, indent=2, sort_keys=True)
