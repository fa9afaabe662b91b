"""The maturity tab's evidence form."""

from django import forms

from approvals.catalogs import maturity as catalog
from approvals.choices import EvidenceKindChoices
from approvals.models import EVIDENCE_FILE_EXTENSIONS, EVIDENCE_FILE_MAX_BYTES
from approvals.services.maturity import NOTE_MAX_LENGTH


def check_choices() -> list:
    return [
        (dimension.title, [(item.key, item.title) for item in dimension.checks])
        for dimension in catalog.DIMENSIONS
    ]


class MaturityEvidenceForm(forms.Form):
    """One piece of evidence: the kind chosen says which of link, file or note is read."""

    check_key = forms.ChoiceField(label="Check", choices=check_choices)
    kind = forms.ChoiceField(choices=EvidenceKindChoices.pairs(), widget=forms.RadioSelect, initial="link")
    url = forms.URLField(label="Link", required=False, max_length=500, assume_scheme="https")
    file = forms.FileField(
        required=False,
        help_text=(
            f"{', '.join(EVIDENCE_FILE_EXTENSIONS)}; at most {EVIDENCE_FILE_MAX_BYTES // 1024 // 1024} MB."
        ),
    )
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=NOTE_MAX_LENGTH
    )

    def clean(self):
        data = super().clean()
        wanted = {EvidenceKindChoices.LINK: "url", EvidenceKindChoices.FILE: "file"}.get(
            data.get("kind"), "note"
        )
        if not self.errors and not data.get(wanted):
            self.add_error(
                wanted, f"Give the {dict(EvidenceKindChoices.pairs())[data.get('kind', 'note')].lower()}."
            )
        return data

    def evidence(self) -> dict:
        """The one argument of ``evidence_add`` the chosen kind calls for."""
        kind = self.cleaned_data["kind"]
        if kind == EvidenceKindChoices.LINK:
            return {"url": self.cleaned_data["url"]}
        if kind == EvidenceKindChoices.FILE:
            return {"file": self.cleaned_data["file"]}
        return {"note": self.cleaned_data["note"]}
