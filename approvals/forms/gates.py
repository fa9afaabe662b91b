"""Forms of the gate and lifecycle pages. They parse input; the rules live in approvals.services.gates and
approvals.services.lifecycle, whose ValidationErrors the views show on the fields they name."""

from django import forms
from django.utils.html import format_html

from approvals.catalogs import maturity as maturity_catalog
from approvals.choices import DecisionChoices, StageKindChoices
from approvals.models import APPROVER_ROLES, GatePolicy, LifecycleStage, LifecycleTransition
from approvals.selectors.lifecycle import direct_moves, gated_moves
from approvals.services.gate_policies import POLICY_FIELDS
from inventory.choices import RiskTierChoices
from portal.roles import ROLE_LABELS
from portal.templatetags.portal_tags import BADGE_COLOURS


def _check_choices():
    return [(key, f"{key} — {check.title}") for key, check in maturity_catalog.CHECKS.items()]


class GateRequestForm(forms.Form):
    to_stage = forms.ChoiceField(label="Move to", help_text="The gated moves open from the current stage.")
    # Not required by the form: the preflight names a missing release with every other blocker
    # and links to where releases are made, instead of a lone "required" before any check runs.
    release = forms.ModelChoiceField(
        queryset=None,
        required=False,
        help_text="An approval covers exactly this release; submitting freezes it.",
    )
    summary = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text="What reviewers should know: scope, users, what changed since the last gate.",
    )

    def __init__(self, *args, use_case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_stage"].choices = [
            (move.to_stage.key, move.to_stage.label) for move in gated_moves(use_case)
        ]
        self.fields["release"].queryset = use_case.releases.order_by("-created_at")
        self.fields["release"].label_from_instance = lambda release: (
            f"{release.version} ({release.code_ref})" + (" · frozen" if release.is_frozen else "")
        )
        # An empty list says nothing by itself: say why it is empty and where that is fixed.
        page = use_case.get_absolute_url()
        if not self.fields["to_stage"].choices:
            if use_case.is_draft:
                self.fields["to_stage"].help_text = format_html(
                    "{} is a draft, so it has no stage to move from yet: a draft must be submitted "
                    "as proposed before any gate can be asked for. "
                    '<a href="{}">Submit it as proposed on its page →</a>',
                    use_case.key,
                    page,
                )
            else:
                self.fields["to_stage"].help_text = format_html(
                    "No move from {} needs a gate. Moves without a gate are made on the "
                    '<a href="{}?tab=approvals">Approvals tab →</a>',
                    use_case.stage_label,
                    page,
                )
        if not self.fields["release"].queryset.exists():
            self.fields["release"].help_text = format_html(
                "{} has no release yet, and an approval covers exactly one release. "
                '<a href="{}?tab=releases">Assemble one on the Releases tab →</a>',
                use_case.key,
                page,
            )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=DecisionChoices.pairs(),
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a decision.",
            "invalid_choice": "Choose one of the decisions offered.",
        },
    )
    comment = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when you reject or request changes.",
    )
    conditions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required with “approve with conditions”: what must hold for the approval to stand.",
    )

    def __init__(self, *args, allows_conditions: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not allows_conditions:
            self.fields["decision"].choices = [
                choice
                for choice in DecisionChoices.pairs()
                if choice[0] != DecisionChoices.APPROVE_WITH_CONDITIONS
            ]
            del self.fields["conditions"]


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000)
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


class StageMoveForm(forms.Form):
    to_stage = forms.ChoiceField(label="Move to")
    reason = forms.CharField(
        required=False, max_length=1000, help_text="Why, for the record (e.g. budget freeze until Q2)."
    )

    def __init__(self, *args, use_case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_stage"].choices = [
            (move.to_stage.key, move.to_stage.label) for move in direct_moves(use_case)
        ]


class GatePolicyForm(forms.Form):
    transition = forms.ModelChoiceField(queryset=LifecycleTransition.objects.none())
    risk_tier = forms.ChoiceField(
        choices=[(GatePolicy.ANY_TIER, "Any tier"), *RiskTierChoices.pairs()], required=False
    )
    min_readiness = forms.DecimalField(min_value=0, max_digits=5, decimal_places=1, initial=0)
    mandatory_checks = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    mandatory_evidence = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    requires_risk_assessment = forms.BooleanField(required=False, initial=True)
    allows_conditions = forms.BooleanField(required=False, initial=True)
    blocked = forms.BooleanField(required=False, help_text="No request can pass (e.g. prohibited practices).")
    validity_days = forms.IntegerField(
        required=False, min_value=1, help_text="Days an approval stays valid; empty: it does not expire."
    )
    review_sla_days = forms.IntegerField(
        min_value=1, max_value=60, initial=5, help_text="Business days reviewers have before it is overdue."
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, policy: GatePolicy | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["transition"].queryset = LifecycleTransition.objects.filter(
            requires_gate=True
        ).select_related("from_stage", "to_stage")
        for name in ("mandatory_checks", "mandatory_evidence"):
            self.fields[name].choices = _check_choices()
        for role in APPROVER_ROLES:
            self.fields[f"approvers_{role}"] = forms.IntegerField(
                label=f"{ROLE_LABELS[role]}s needed", min_value=0, max_value=10, initial=0, required=False
            )
        if policy is not None:
            # A policy stays with its transition and tier; create another for a different one.
            self.fields["transition"].disabled = True
            self.fields["risk_tier"].disabled = True
            self.initial.update(
                {
                    "transition": policy.transition_id,
                    "risk_tier": policy.risk_tier,
                    **{name: getattr(policy, name) for name in POLICY_FIELDS},
                    **{f"approvers_{role}": count for role, count in policy.quorum().items()},
                }
            )

    def approver_fields(self):
        return [self[f"approvers_{role}"] for role in APPROVER_ROLES]

    def requirements(self) -> dict[str, int]:
        return {role: self.cleaned_data.get(f"approvers_{role}") or 0 for role in APPROVER_ROLES}

    def values(self) -> dict:
        data = self.cleaned_data
        return {name: data[name] for name in POLICY_FIELDS}


class StageForm(forms.Form):
    key = forms.SlugField(max_length=40, help_text="Stable: lowercase letters, digits and underscores.")
    label = forms.CharField(max_length=80)
    kind = forms.ChoiceField(
        choices=StageKindChoices.pairs(), help_text="What the stage means for the portfolio."
    )
    order = forms.IntegerField(min_value=0, max_value=32767, help_text="Position in funnels and lists.")
    colour = forms.ChoiceField(choices=[(colour, colour) for colour in sorted(BADGE_COLOURS)], initial="grey")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, stage: LifecycleStage | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if stage is not None:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = "Stage keys never change (URLs, filters and descriptors use them)."
            self.initial.update(
                {
                    name: getattr(stage, name)
                    for name in ("key", "label", "kind", "order", "colour", "description")
                }
            )


class TransitionForm(forms.Form):
    from_stage = forms.ModelChoiceField(queryset=LifecycleStage.objects.all(), to_field_name="key")
    to_stage = forms.ModelChoiceField(queryset=LifecycleStage.objects.all(), to_field_name="key")
    requires_gate = forms.BooleanField(
        required=False,
        initial=True,
        help_text="The move happens only when a gate request for it is approved.",
    )

    def __init__(self, *args, transition: LifecycleTransition | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if transition is not None:
            self.fields["from_stage"].disabled = True
            self.fields["to_stage"].disabled = True
            self.initial.update(
                {
                    "from_stage": transition.from_stage.key,
                    "to_stage": transition.to_stage.key,
                    "requires_gate": transition.requires_gate,
                }
            )
