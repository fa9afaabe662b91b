"""Maturity pages: reassess, add and withdraw evidence. Results show on the use case's
"Maturity" tab (inventory.views.usecases, approvals.selectors.maturity.maturity_overview)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from approvals.catalogs import maturity as catalog
from approvals.choices import AssessmentTriggerChoices
from approvals.forms.maturity import MaturityEvidenceForm
from approvals.models import MaturityEvidence
from approvals.policies import may_maintain_maturity
from approvals.selectors import maturity as maturity_selectors
from approvals.services import maturity
from inventory.selectors.usecases import use_case_for
from portal.permissions import Action, get_restricted_object_or_404
from portal.views.generic import service_edit_view, service_error_message


def _maturity_tab(use_case) -> str:
    return use_case.get_absolute_url() + "?tab=maturity"


def _use_case_to_maintain(request, key: str):
    """The use case (404 unless visible), if the person may maintain its maturity (403 otherwise)."""
    use_case = use_case_for(user=request.user, key=key)
    if not may_maintain_maturity(request.user, use_case):
        raise PermissionDenied("The owning team and the CoE maintain a use case's maturity evidence.")
    return use_case


@login_required
@require_POST
def maturity_reassess(request, key: str):
    use_case = _use_case_to_maintain(request, key)
    assessment = maturity.maturity_assess(
        use_case=use_case, actor=request.user, trigger=AssessmentTriggerChoices.MANUAL
    )
    level = maturity_selectors.assessment_level(assessment)
    messages.success(
        request,
        f"{use_case.key} reassessed (version {assessment.version}): readiness {assessment.readiness}, "
        f"level {level.number} {level.name}.",
    )
    return redirect(_maturity_tab(use_case))


@login_required
def maturity_evidence_add(request, key: str):
    """Attach a link, a file or a note to a check; the assessment updates once it is saved."""
    use_case = _use_case_to_maintain(request, key)
    initial = {"check_key": request.GET.get("check")} if request.GET.get("check") in catalog.CHECKS else {}
    form = MaturityEvidenceForm(request.POST or None, request.FILES or None, initial=initial)
    return service_edit_view(
        request,
        form=form,
        save=lambda data: maturity.evidence_add(
            use_case=use_case, check_key=data["check_key"], actor=request.user, **form.evidence()
        ),
        template="approvals/maturity_evidence_form.html",
        context={"use_case": use_case},
        success_url=_maturity_tab(use_case),
        success_message=lambda evidence: (
            f"Evidence added to “{catalog.CHECKS[evidence.check_key].title}” ({use_case.key})."
        ),
    )


@login_required
@require_POST
def maturity_evidence_withdraw(request, key: str, pk: int):
    use_case = use_case_for(user=request.user, key=key)
    evidence = get_restricted_object_or_404(
        MaturityEvidence.objects.filter(use_case=use_case), request.user, "custom:withdraw", pk=pk
    )
    try:
        maturity.evidence_withdraw(evidence=evidence, actor=request.user)
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
    else:
        check = catalog.check(evidence.check_key)
        messages.success(
            request, f"Evidence withdrawn from “{check.title if check else evidence.check_key}”."
        )
    return redirect(_maturity_tab(use_case))


def evidence_file_response(evidence: MaturityEvidence) -> FileResponse:
    """The evidence file as a download (never rendered inline: it is whatever someone uploaded)."""
    if not evidence.file:
        raise Http404("This evidence has no file.")
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise Http404("The evidence file is missing from storage.") from None
    return FileResponse(handle, as_attachment=True, filename=evidence.file.name.rsplit("/", 1)[-1])


@login_required
def maturity_evidence_file(request, key: str, pk: int):
    """Evidence files are served only through here, to people who may see the use case (media
    files are not served publicly: a restricted use case's evidence must stay hidden)."""
    use_case = use_case_for(user=request.user, key=key)
    evidence = get_restricted_object_or_404(
        MaturityEvidence.objects.filter(use_case=use_case), request.user, Action.VIEW, pk=pk
    )
    return evidence_file_response(evidence)
