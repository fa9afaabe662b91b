from django import forms
from django.contrib.auth import get_user_model

from inventory.choices import AIKindChoices, DataSensitivityChoices, HumanOversightChoices, VisibilityChoices
from inventory.models import BusinessUnit, Team
from inventory.models.usecases import PURPOSE_MAX_LENGTH
from portal.permissions import restrict_form_fields
from portal.roles import Role, has_role


class BusinessUnitForm(forms.ModelForm):
    class Meta:
        model = BusinessUnit
        fields = ["name", "slug", "description", "head"]
        help_texts = {
            "name": "How the company calls this unit.",
            "slug": "Short stable key for URLs and imports: lowercase letters, digits and hyphens.",
            "description": "What the unit does, in a sentence.",
            "head": "The executive who answers for this unit's AI portfolio.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["head"].queryset = get_user_model().objects.filter(is_active=True)
        restrict_form_fields(self, user)


class TeamForm(forms.ModelForm):
    """Admins edit everything; a team lead edits the description, lead and members of their team."""

    LEAD_FIELDS = ("description", "lead", "members")

    members = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 10}),
        help_text="People on the team. The lead is always a member. Hold Ctrl (⌘ on a Mac) to pick several.",
    )

    class Meta:
        model = Team
        fields = ["name", "slug", "business_unit", "description", "lead", "members"]
        help_texts = {
            "name": "How people refer to the team.",
            "slug": "Short stable key for URLs and imports: lowercase letters, digits and hyphens.",
            "business_unit": "The unit that funds the team.",
            "description": "What the team builds and runs.",
            "lead": "Accountable for the team's use cases; may edit the team.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        people = (
            get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
        )
        self.fields["lead"].queryset = people
        self.fields["members"].queryset = people
        if self.instance.pk:
            self.initial.setdefault("members", list(self.instance.members.values_list("pk", flat=True)))
        restrict_form_fields(self, user)
        if not has_role(user, Role.ADMIN):
            for name in list(self.fields):
                if name not in self.LEAD_FIELDS:
                    del self.fields[name]


class UseCaseForm(forms.Form):
    """The intake and edit form. Six questions are required; everything else can wait.

    Not a ModelForm: writes go through inventory.services, which know the rules (keys, owners
    in the team, permissions for the owning team's group).
    """

    REQUIRED = ("name", "purpose", "owning_team", "accountable_owner", "ai_kind", "data_sensitivity")
    SECTIONS = (
        ("Ownership", ("technical_owner", "business_sponsor", "data_steward", "escalation_contact")),
        ("How it works", ("customer_facing", "human_oversight", "visibility", "tags")),
        ("Links", ("repository_url", "runbook_url", "dashboard_url")),
    )

    name = forms.CharField(
        max_length=200, help_text="A short name people will recognise, e.g. “Support chatbot”."
    )
    purpose = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=PURPOSE_MAX_LENGTH,
        help_text="What it does, for whom, and what it changes for them. Similar use cases appear as you type.",
    )
    owning_team = forms.ModelChoiceField(
        queryset=Team.objects.none(), label="Team", help_text="The team that builds and runs it."
    )
    accountable_owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        help_text="The one person who answers for it. Must be a member of the team.",
    )
    ai_kind = forms.ChoiceField(
        label="Kind of AI",
        choices=[("", "Choose…"), *AIKindChoices.pairs()],
        help_text="What kind of AI it uses.",
    )
    data_sensitivity = forms.ChoiceField(
        choices=[("", "Choose…"), *DataSensitivityChoices.pairs()],
        help_text="The most sensitive data it reads or produces.",
    )
    technical_owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, help_text="Keeps it running."
    )
    business_sponsor = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, help_text="Funds it and owns the outcome."
    )
    data_steward = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, help_text="Answers for the data it uses."
    )
    escalation_contact = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, help_text="Who to call when it misbehaves."
    )
    customer_facing = forms.BooleanField(
        required=False, help_text="Customers, not only employees, see its outputs or talk to it."
    )
    human_oversight = forms.ChoiceField(
        choices=HumanOversightChoices.pairs(),
        initial=HumanOversightChoices.IN_THE_LOOP,
        help_text="How people supervise what it produces.",
    )
    visibility = forms.ChoiceField(
        choices=VisibilityChoices.pairs(),
        initial=VisibilityChoices.NORMAL,
        help_text="Restricted hides it from other teams (not from the CoE, executives or auditors).",
    )
    tags = forms.CharField(
        required=False, help_text="Comma-separated words that help others find it, e.g. “search, rag, hr”."
    )
    repository_url = forms.URLField(
        required=False, assume_scheme="https", label="Repository", help_text="Where the code lives."
    )
    runbook_url = forms.URLField(
        required=False, assume_scheme="https", label="Runbook", help_text="How to operate and recover it."
    )
    dashboard_url = forms.URLField(
        required=False, assume_scheme="https", label="Dashboard", help_text="Where its health is watched."
    )

    def __init__(self, *args, user, use_case=None, **kwargs):
        if use_case is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                **{field: getattr(use_case, field) for field in self.REQUIRED},
                **{field: getattr(use_case, field) for _title, fields in self.SECTIONS for field in fields},
                "tags": ", ".join(use_case.tags),
            }
        super().__init__(*args, **kwargs)
        people = (
            get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
        )
        for name in (
            "accountable_owner",
            "technical_owner",
            "business_sponsor",
            "data_steward",
            "escalation_contact",
        ):
            self.fields[name].queryset = people
            self.fields[name].label_from_instance = lambda person: (
                f"{person.display_name} ({person.username})"
            )
        teams = Team.objects.select_related("business_unit")
        if not has_role(user, Role.ADMIN):
            teams = teams.filter(group__user=user)
        self.fields["owning_team"].queryset = teams.order_by("name")
        restrict_form_fields(self, user)
        if use_case is None and not self.is_bound:
            # Most people are on one team: start from it, and from themselves as the owner.
            mine = list(self.fields["owning_team"].queryset[:2])
            if len(mine) == 1:
                self.initial.setdefault("owning_team", mine[0].pk)
                self.initial.setdefault("accountable_owner", user.pk)

    def sections(self):
        """The optional fields, grouped for progressive disclosure."""
        return [(title, [self[name] for name in fields]) for title, fields in self.SECTIONS]

    def required_fields(self):
        return [self[name] for name in self.REQUIRED]


class ReassignOwnersForm(forms.Form):
    accountable_owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), help_text="Must be an active member of the owning team."
    )
    technical_owner = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    business_sponsor = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    data_steward = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    escalation_contact = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)

    def __init__(self, *args, use_case, user, **kwargs):
        kwargs.setdefault("initial", {name: getattr(use_case, name) for name in self.base_fields})
        super().__init__(*args, **kwargs)
        people = (
            get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
        )
        for name in self.fields:
            self.fields[name].queryset = people
            self.fields[name].label_from_instance = lambda person: (
                f"{person.display_name} ({person.username})"
            )
        restrict_form_fields(self, user)
