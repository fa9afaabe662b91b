from django import forms
from django.contrib.auth import get_user_model

from approvals.catalogs import risk as risk_catalog
from approvals.models import RiskRegisterEntry
from approvals.services.risk import REGISTER_FIELDS
from portal.permissions import restrict_form_fields

YES, NO = "yes", "no"


class RiskQuestionnaireForm(forms.Form):
    """The risk classification questionnaire, built from the catalog (approvals.catalogs.risk).

    Not a ModelForm: the answers go to ``risk_assessment_record``, which checks them against the
    catalog, classifies them and saves a new version.
    """

    def __init__(self, *args, previous: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        previous = previous or {}
        for question in risk_catalog.QUESTIONS:
            self.fields[question.id] = self._field_for(question)
            if question.id in previous:
                self.initial[question.id] = self._initial_for(question, previous[question.id])

    @staticmethod
    def _field_for(question: risk_catalog.Question) -> forms.Field:
        common = {"label": question.text, "help_text": question.help}
        if question.kind == risk_catalog.YES_NO:
            return forms.ChoiceField(
                choices=[(YES, "Yes"), (NO, "No")],
                widget=forms.RadioSelect,
                initial=NO,
                required=False,
                **common,
            )
        options = [
            (option.value, f"{option.label} ({option.reference})" if option.reference else option.label)
            for option in question.options
        ]
        if question.kind == risk_catalog.ONE_OF:
            return forms.ChoiceField(
                choices=options, widget=forms.RadioSelect, required=question.required, **common
            )
        if question.kind == risk_catalog.ANY_OF:
            return forms.MultipleChoiceField(
                choices=options, widget=forms.CheckboxSelectMultiple, required=False, **common
            )
        return forms.CharField(
            widget=forms.Textarea(attrs={"rows": 4}),
            max_length=risk_catalog.TEXT_MAX_LENGTH,
            required=False,
            strip=True,
            **common,
        )

    @staticmethod
    def _initial_for(question: risk_catalog.Question, value):
        if question.kind == risk_catalog.YES_NO:
            return YES if value else NO
        return value

    def answers(self) -> dict:
        """The cleaned form as catalog answers (yes/no as booleans)."""
        answers = {}
        for question in risk_catalog.QUESTIONS:
            value = self.cleaned_data.get(question.id)
            answers[question.id] = value == YES if question.kind == risk_catalog.YES_NO else value
        return answers

    def sections(self):
        """Questions grouped as the catalog declares them, each with its legal reference."""
        return [
            (title, [(self[question.id], question) for question in risk_catalog.questions_in(section)])
            for section, title in risk_catalog.SECTIONS
        ]


class RiskRegisterEntryForm(forms.ModelForm):
    class Meta:
        model = RiskRegisterEntry
        fields = list(REGISTER_FIELDS)
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "mitigation": forms.Textarea(attrs={"rows": 3}),
            "review_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {
            "residual_likelihood": "Likelihood once the mitigation works (1-5). Empty: as before mitigation.",
            "residual_severity": "Severity once the mitigation works (1-5). Empty: as before mitigation.",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
        )
        self.fields["owner"].label_from_instance = lambda person: f"{person.display_name} ({person.username})"
        for name in ("likelihood", "severity", "residual_likelihood", "residual_severity"):
            self.fields[name].widget.attrs.update({"min": 1, "max": 5})
        self.fields["residual_likelihood"].required = False
        self.fields["residual_severity"].required = False
        restrict_form_fields(self, user)

    def _post_clean(self):
        # The rules (residual within inherent, review dates, owners) are the service's: it runs
        # full_clean itself and the view shows its errors on the fields.
        pass
