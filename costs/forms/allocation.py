"""Forms of the allocation, budget and value pages. Rules live in the services and models'
``clean()``; these forms parse input and offer only what the person may see."""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django import forms

from costs.choices import SplitMethodChoices
from costs.models import AllocationRule, Budget
from inventory.models import Team, UseCase
from portal.permissions import Action, restrict, restrict_form_fields

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(value: str, field: str = "period") -> date:
    match = MONTH.match((value or "").strip())
    if not match:
        raise forms.ValidationError(f"“{value}” is not a month: write YYYY-MM, e.g. 2026-11.", code=field)
    return date(int(match.group(1)), int(match.group(2)), 1)


class AllocationRuleForm(forms.ModelForm):
    class Meta:
        model = AllocationRule
        fields = AllocationRule.EDITABLE_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "kind": "“Tag value is a use-case key” reads the use case from the tag (e.g. use-case: UC-0042); "
            "leave the target empty. Its tag keys default to use-case, usecase, use_case, project.",
            "resource_pattern": "Glob: * any characters, ? one character (case-insensitive). Regular "
            "expression: as written; anchor with ^ and $.",
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        restrict_form_fields(self, user)

    def _post_clean(self):
        # The service runs full_clean() with the rule's own rules; the form only parses.
        pass

    def service_arguments(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields}


class SharedPoolForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    split_method = forms.ChoiceField(
        choices=[],
        help_text="In proportion to direct cost (default): each member's own cost this month; evenly; "
        "or fixed percentages that add up to 100.",
    )
    members = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
        help_text="One per line: a use-case key (UC-0042) or team:<slug>, then a percentage for fixed "
        "splits, e.g. “UC-0042 40” or “team:platform 60”.",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["split_method"].choices = SplitMethodChoices.pairs()

    @staticmethod
    def members_text(pool) -> str:
        lines = []
        for member in pool.members.select_related("use_case", "team"):
            name = member.use_case.key if member.use_case_id else f"team:{member.team.slug}"
            lines.append(
                f"{name} {member.percentage.normalize():f}" if member.percentage is not None else name
            )
        return "\n".join(lines)

    def clean_members(self) -> list[dict]:
        use_cases = restrict(UseCase.objects.all(), self.user, Action.VIEW)
        teams = restrict(Team.objects.all(), self.user, Action.VIEW)
        members, problems = [], []
        for number, raw in enumerate(self.cleaned_data["members"].splitlines(), start=1):
            parts = raw.split()
            if not parts:
                continue
            name, rest = parts[0], parts[1:]
            percentage = None
            if len(rest) > 1:
                problems.append(f"Line {number}: write a name and at most one percentage.")
                continue
            if rest:
                try:
                    percentage = Decimal(rest[0].rstrip("%"))
                except InvalidOperation:
                    problems.append(f"Line {number}: “{rest[0]}” is not a percentage.")
                    continue
            if name.lower().startswith("team:"):
                team = teams.filter(slug=name[5:]).first()
                if team is None:
                    problems.append(f"Line {number}: no team “{name[5:]}”.")
                    continue
                members.append({"team": team, "percentage": percentage})
            else:
                use_case = use_cases.filter(key=name.upper()).first()
                if use_case is None:
                    problems.append(f"Line {number}: no use case “{name}”.")
                    continue
                members.append({"use_case": use_case, "percentage": percentage})
        if problems:
            raise forms.ValidationError(problems)
        return members


class BudgetForm(forms.ModelForm):
    thresholds = forms.CharField(
        initial="50, 80, 100", help_text="Alert when spend reaches these percentages of the budget."
    )

    class Meta:
        model = Budget
        fields = ["use_case", "team", "amount", "currency", "thresholds", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"use_case": "A use case or a team (one of them)."}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        restrict_form_fields(self, user)
        if self.instance.pk:
            self.initial["thresholds"] = ", ".join(str(value) for value in self.instance.thresholds)

    def clean_thresholds(self) -> list[int]:
        values = []
        for part in re.split(r"[,\s]+", self.cleaned_data["thresholds"].strip()):
            if not part:
                continue
            if not part.rstrip("%").isdigit():
                raise forms.ValidationError(f"“{part}” is not a whole percentage.")
            values.append(int(part.rstrip("%")))
        return values

    def _post_clean(self):
        pass  # the service validates the budget as a whole

    def service_arguments(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields}


class KpiReadingForm(forms.Form):
    kpi = forms.ModelChoiceField(queryset=None, label="KPI")
    period = forms.CharField(label="Month", help_text="YYYY-MM, e.g. 2026-11.")
    value = forms.DecimalField(max_digits=18, decimal_places=4, help_text="What the KPI measured that month.")
    monetized_value = forms.DecimalField(
        max_digits=18,
        decimal_places=2,
        required=False,
        label="Money value",
        help_text="Optional: what it was worth. Empty: value * the KPI's value per unit.",
    )
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args, kpis=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kpi"].queryset = kpis

    def clean_period(self) -> date:
        return parse_month(self.cleaned_data["period"])


__all__ = ["AllocationRuleForm", "BudgetForm", "KpiReadingForm", "SharedPoolForm", "parse_month"]
