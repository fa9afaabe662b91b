"""Risk classification pages: the questionnaire, and the register's entries. Results show on the
use case's "Risk" tab (inventory.views.usecases, approvals.selectors.risk.risk_overview)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render

from approvals.forms.risk import RiskQuestionnaireForm, RiskRegisterEntryForm
from approvals.models import RiskRegisterEntry
from approvals.policies import may_assess_risk
from approvals.selectors.risk import risk_assessments_for
from approvals.services import risk as services
from inventory.choices import RiskTierChoices
from inventory.selectors import use_case_for
from portal.forms import add_service_errors
from portal.permissions import Action, get_restricted_object_or_404


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
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.risk_assessment_record(
                use_case=use_case, answers=form.answers(), actor=request.user
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"{use_case.key} assessed (version {assessment.version}): "
                f"{RiskTierChoices.label(assessment.tier)}.",
            )
            return redirect(_risk_tab(use_case))
    return render(
        request, "approvals/risk_questionnaire.html", {"form": form, "use_case": use_case, "latest": latest}
    )


@login_required
def register_entry_edit(request, key: str, pk: int | None = None):
    """Add a risk to the use case's register, or change one."""
    use_case = use_case_for(user=request.user, key=key)
    entry = None
    if pk is None:
        if not may_assess_risk(request.user, use_case):
            raise PermissionDenied("The owning team and the CoE maintain a use case's risk register.")
    else:
        entry = get_restricted_object_or_404(
            RiskRegisterEntry.objects.filter(use_case=use_case), request.user, Action.CHANGE, pk=pk
        )
    form = RiskRegisterEntryForm(request.POST or None, instance=entry, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            if entry is None:
                entry = services.register_entry_create(use_case=use_case, actor=request.user, **data)
                messages.success(request, f"Risk “{entry.title}” added to {use_case.key}'s register.")
            else:
                for name in ("residual_likelihood", "residual_severity"):
                    if data[name] is None:
                        data[name] = data[name.removeprefix("residual_")]
                services.register_entry_update(entry=entry, actor=request.user, **data)
                messages.success(request, f"Risk “{entry.title}” saved.")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect(_risk_tab(use_case))
    return render(
        request, "approvals/register_entry_form.html", {"form": form, "use_case": use_case, "entry": entry}
    )


@login_required
def register_entry_delete(request, key: str, pk: int):
    use_case = use_case_for(user=request.user, key=key)
    entry = get_restricted_object_or_404(
        RiskRegisterEntry.objects.filter(use_case=use_case), request.user, Action.DELETE, pk=pk
    )
    if request.method == "POST":
        services.register_entry_delete(entry=entry, actor=request.user)
        messages.success(request, f"Risk “{entry.title}” removed from {use_case.key}'s register.")
        return redirect(_risk_tab(use_case))
    return render(request, "portal/confirm_delete.html", {"object": entry, "cancel_url": _risk_tab(use_case)})
