"""Forms of the finding pages. They parse input; the rules (which moves, who may accept a risk
and for how long) live in approvals.services.findings, whose ValidationErrors the views show on
the fields they name (``portal.forms.add_service_errors``)."""

from datetime import UTC, datetime, time

from django import forms

from approvals.services.findings import COMMENT_MAX_LENGTH


class AcknowledgeForm(forms.Form):
    comment = forms.CharField(
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: what you plan to do, and when.",
    )


class ResolveForm(forms.Form):
    # Required by the service, not here: its message says what to write.
    comment = forms.CharField(
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What was done",
        help_text="If the condition still holds, the next audit run reopens the finding.",
    )


class AcceptRiskForm(forms.Form):
    reason = forms.CharField(
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the risk is acceptable, and what limits it.",
    )
    until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Accepted until",
        help_text="The finding opens again on this date (UTC) unless it is resolved before.",
    )

    def until_datetime(self) -> datetime | None:
        day = self.cleaned_data.get("until")
        return datetime.combine(day, time.min, tzinfo=UTC) if day else None


class FindingCommentForm(forms.Form):
    body = forms.CharField(
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Comment",
    )
