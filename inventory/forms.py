from django import forms
from django.contrib.auth import get_user_model
from django.db import models

from inventory.choices import (
    AIKindChoices,
    AssetKindChoices,
    DataSensitivityChoices,
    HumanOversightChoices,
    VisibilityChoices,
)
from inventory.models import BusinessUnit, DatasetVersion, Environment, ModelVersion, PromptVersion, Team
from inventory.models.usecases import PURPOSE_MAX_LENGTH
from inventory.policies import may_configure_teams, may_file_for_any_team
from inventory.services.catalog import asset_model
from portal.permissions import restrict_form_fields


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
        if not may_configure_teams(user):
            for name in list(self.fields):
                if name not in self.LEAD_FIELDS:
                    del self.fields[name]


class UseCaseForm(forms.Form):
    """The intake and edit form. Six questions are required; everything else can wait.

    Not a ModelForm: writes go through inventory.services.usecases, which know the rules (keys, owners
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
        if not may_file_for_any_team(user):
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


#
# What a use case is built from (the Releases tab): assets, versions, releases. The forms parse
# input; inventory.services.usecases decides (permissions, one version per asset, frozen releases).
#

ASSET_FIELDS = {
    AssetKindChoices.MODEL: ("provider", "vendor", "registry_url"),
    AssetKindChoices.PROMPT: (),
    AssetKindChoices.DATASET: ("sensitivity", "sources"),
    AssetKindChoices.DATA_SOURCE: ("system", "sensitivity"),
    AssetKindChoices.COMPONENT: ("repository_url",),
}


def _https_urls(model_field, **kwargs):
    """Addresses typed without a scheme are https (Django 6's default, and what people mean)."""
    if isinstance(model_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return model_field.formfield(**kwargs)


class AssetForm(forms.Form):
    """Register a model, prompt template, dataset, data source or shared component."""

    owning_team = forms.ModelChoiceField(
        queryset=Team.objects.none(), label="Team", help_text="The team that maintains it."
    )

    def __init__(self, *args, kind: str, user, use_case, **kwargs):
        super().__init__(*args, **kwargs)
        model_class = asset_model(kind)
        self.fields.update(
            forms.fields_for_model(
                model_class,
                fields=["name", "slug", "description", *ASSET_FIELDS[kind]],
                formfield_callback=_https_urls,
            )
        )
        self.fields["slug"].required = False
        self.fields[
            "slug"
        ].help_text = "Stable key for URLs and imports; left empty, it is made from the name."
        self.fields["description"].widget.attrs["rows"] = 3
        teams = Team.objects.order_by("name")
        if not may_file_for_any_team(user):
            teams = teams.filter(group__user=user)
        self.fields["owning_team"].queryset = teams
        self.initial.setdefault("owning_team", use_case.owning_team_id)
        restrict_form_fields(self, user)
        self.order_fields(["name", "owning_team", "slug", "description"])


class VersionForm(forms.Form):
    """A version of a model (artifact + digest), prompt template (its text) or dataset (where it
    is, its digest and lineage)."""

    FIELDS = {
        AssetKindChoices.MODEL: (ModelVersion, ("version", "sha256", "artifact_uri", "registry_url")),
        AssetKindChoices.PROMPT: (PromptVersion, ("version", "content")),
        AssetKindChoices.DATASET: (
            DatasetVersion,
            ("version", "sha256", "location", "lineage", "derived_from"),
        ),
    }

    def __init__(self, *args, kind: str, asset, user, **kwargs):
        super().__init__(*args, **kwargs)
        model_class, fields = self.FIELDS[kind]
        self.fields.update(
            forms.fields_for_model(model_class, fields=list(fields), formfield_callback=_https_urls)
        )
        self.fields["version"].help_text = "Its name in your registry, e.g. 3.2.0 or 2026-10."
        if "sha256" in self.fields:
            self.fields["sha256"] = forms.CharField(
                required=False,
                max_length=71,
                label="SHA-256 digest",
                help_text="64 hexadecimal characters (a “sha256:” prefix is fine). A release needs it to pass a gate.",
            )
        if "lineage" in self.fields:
            self.fields["lineage"].widget.attrs["rows"] = 3
        if "content" in self.fields:
            self.fields["content"].widget.attrs["rows"] = 8
            self.fields["content"].help_text = "The prompt's text; its SHA-256 digest is computed from it."
        if "derived_from" in self.fields:
            self.fields["derived_from"].queryset = DatasetVersion.objects.select_related("dataset")
            self.fields["derived_from"].required = False
            self.fields["derived_from"].help_text = "Earlier dataset versions this one was produced from."
        restrict_form_fields(self, user)


class ReleaseForm(forms.Form):
    """Assemble a release: a code ref plus one version of each model, prompt and dataset."""

    version = forms.CharField(max_length=80, help_text="The release's name, e.g. 2026.11.1 or v3.")
    code_ref = forms.CharField(max_length=200, label="Code ref", help_text="Git commit, tag or image digest.")
    notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="What changed, for reviewers."
    )
    model_versions = forms.ModelMultipleChoiceField(
        queryset=ModelVersion.objects.none(), required=False, label="Model versions",
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="One version of each model it runs. Hold Ctrl (⌘ on a Mac) to pick several.",
    )  # fmt: skip
    prompt_versions = forms.ModelMultipleChoiceField(
        queryset=PromptVersion.objects.none(), required=False, label="Prompt versions",
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )  # fmt: skip
    dataset_versions = forms.ModelMultipleChoiceField(
        queryset=DatasetVersion.objects.none(), required=False, label="Dataset versions",
        widget=forms.SelectMultiple(attrs={"size": 4}), help_text="The data it was trained or evaluated on.",
    )  # fmt: skip

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        labels = {
            "model_versions": (ModelVersion.objects.select_related("model").order_by("model__name", "-created_at"),
                               lambda v: f"{v.model.name} {v.version}" + ("" if v.sha256 else " (no digest)")),
            "prompt_versions": (PromptVersion.objects.select_related("template").order_by("template__name", "-created_at"),
                                lambda v: f"{v.template.name} {v.version}"),
            "dataset_versions": (DatasetVersion.objects.select_related("dataset").order_by("dataset__name", "-created_at"),
                                 lambda v: f"{v.dataset.name} {v.version}" + ("" if v.sha256 else " (no digest)")),
        }  # fmt: skip
        for name, (queryset, label) in labels.items():
            self.fields[name].queryset = queryset
            self.fields[name].label_from_instance = label
        restrict_form_fields(self, user)


class EnvironmentForm(forms.ModelForm):
    class Meta:
        model = Environment
        fields = ["name", "slug", "kind", "description"]
        help_texts = {
            "slug": "Short stable key for URLs, the API and `propylon deploy --env`.",
            "kind": "Production deployments need an approval that covers the release.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
