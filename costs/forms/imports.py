from django import forms

from costs.models import CostSource, cost_import_root
from costs.services.imports import MAX_UPLOAD_BYTES


class CostSourceForm(forms.ModelForm):
    """The secret access key is write-only: the field is always empty; leaving it empty keeps the
    stored secret, and “forget the stored secret” removes it."""

    secret_access_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Never shown again once saved. Leave empty to keep the stored secret.",
    )
    endpoint_url = forms.URLField(
        label="Endpoint URL",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="Only for S3-compatible storage or a private endpoint; empty means AWS's own.",
    )
    forget_secret = forms.BooleanField(required=False, label="Forget the stored secret access key")

    class Meta:
        model = CostSource
        fields = [
            "name",
            "kind",
            "location",
            "enabled",
            "description",
            "use_case_tag_key",
            "aws_region",
            "endpoint_url",
            "role_arn",
            "external_id",
            "access_key_id",
        ]
        help_texts = {
            "name": "How people and the command line (--source) call this feed.",
            "enabled": "Enabled sources with a location (or Cost Explorer) are imported every day.",
            "location": "FOCUS: a folder below the cost import folder, or s3://bucket/prefix (or empty "
            "for uploads). CUR: s3://bucket/prefix/report-name; the manifest of each month is read from there.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].help_text += f" Local folders: only below {cost_import_root()}."
        if not (self.instance and self.instance.has_secret):
            del self.fields["forget_secret"]

    def service_arguments(self) -> dict:
        data = {name: self.cleaned_data[name] for name in self.Meta.fields}
        secret = self.cleaned_data.get("secret_access_key") or ""
        if self.cleaned_data.get("forget_secret"):
            data["secret_access_key"] = ""
        elif secret:
            data["secret_access_key"] = secret
        return data

    def _post_clean(self):
        # The model's clean() pairs key ID and secret; judge it with the secret that will be
        # stored (the one typed, else the one kept), which the form never holds.
        secret = self.cleaned_data.get("secret_access_key") or ""
        keep = self.instance.secret_access_key if self.instance.pk else ""
        if self.cleaned_data.get("forget_secret"):
            keep = ""
        self.instance.secret_access_key = secret or keep
        super()._post_clean()


class CostUploadForm(forms.Form):
    file = forms.FileField(
        help_text=f"A FOCUS 1.x export: .csv, .csv.gz or .parquet, up to {MAX_UPLOAD_BYTES // 1024**3} GB. "
        "Larger exports belong in a folder or S3 set as the source's location."
    )
