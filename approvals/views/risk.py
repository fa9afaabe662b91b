"""Risk classification pages: the questionnaire, and the register's entries. Results show on the
use case's "Risk" tab (inventory.views.usecases, approvals.selectors.risk.risk_overview)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from approvals.forms.risk import RiskQuestionnaireForm, RiskRegisterEntryForm
from approvals.models import RiskRegisterEntry
from approvals.policies import may_assess_risk
from approvals.selectors.risk import risk_assessments_for
from approvals.services import risk as services
from inventory.choices import RiskTierChoices
from inventory.selectors.usecases import use_case_for
from portal.views.generic import object_to_edit, service_delete_view, service_edit_view


def _risk_tab(use_case) -> str:
    return use_case.get_absolute_url() + "?tab=risk"


def _use_case_to_assess(request, key: str):
    """The use case (404 unless visible), if the person may assess its risk (403 otherwise)."""
    use_case = use_case_for(user=request.user, key=key)
    if not may_assess_risk(request.user, use_case):
        raise PermissionDenied("The owning team and the CoE assess a use case's risk.")
    return use_case


@login_required
def risk_questionnaire(request, key: str):
    """The EU AI Act questionnaire, prefilled with the latest answers; saving records a new version."""
    use_case = _use_case_to_assess(request, key)
    latest = risk_assessments_for(user=request.user, use_case=use_case).first()
    form = RiskQuestionnaireForm(request.POST or None, previous=latest.answers if latest else None)
    return service_edit_view(
        request,
        form=form,
        save=lambda _data: services.risk_assessment_record(
            use_case=use_case, answers=form.answers(), actor=request.user
        ),
        template="approvals/risk_questionnaire.html",
        context={"use_case": use_case, "latest": latest},
        success_url=_risk_tab(use_case),
        success_message=lambda assessment: (
            f"{use_case.key} assessed (version {assessment.version}): {RiskTierChoices.label(assessment.tier)}."
        ),
    )


@login_required
def register_entry_edit(request, key: str, pk: int | None = None):
    """Add a risk to the use case's register, or change one."""
    use_case = use_case_for(user=request.user, key=key)
    entry = object_to_edit(
        request,
        RiskRegisterEntry.objects.filter(use_case=use_case),
        refusal="The owning team and the CoE maintain a use case's risk register.",
        may_add=lambda: may_assess_risk(request.user, use_case),
        pk=pk,
    )
    form = RiskRegisterEntryForm(request.POST or None, instance=entry, user=request.user)

    def save(data):
        if entry is None:
            return services.register_entry_create(use_case=use_case, actor=request.user, **data)
        for name in ("residual_likelihood", "residual_severity"):
            if data[name] is None:
                data[name] = data[name.removeprefix("residual_")]
        services.register_entry_update(entry=entry, actor=request.user, **data)
        return entry

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="approvals/register_entry_form.html",
        context={"use_case": use_case, "entry": entry},
        success_url=_risk_tab(use_case),
        success_message=lambda saved: (
            f"Risk “{saved.title}” added to {use_case.key}'s register."
            if entry is None
            else f"Risk “{saved.title}” saved."
        ),
    )


@login_required
def register_entry_delete(request, key: str, pk: int):
    use_case = use_case_for(user=request.user, key=key)
    return service_delete_view(
        request,
        RiskRegisterEntry.objects.filter(use_case=use_case),
        pk=pk,
        delete=lambda entry: services.register_entry_delete(entry=entry, actor=request.user),
        success_url=_risk_tab(use_case),
        success_message=lambda entry: f"Risk “{entry.title}” removed from {use_case.key}'s register.",
        cancel_url=_risk_tab(use_case),
    )
