"""Deployment pages: the use case's Deployments tab, deploying a release, a deployment's page
(events, live status, rollback) and the global list. Thin callers of
operations.services.deployments and operations.selectors.deployments."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from inventory.models import Environment
from inventory.selectors.usecases import use_case_for
from operations.choices import DeploymentStatusChoices
from operations.forms.deployments import DeploymentForm
from operations.models import Deployment
from operations.policies import may_deploy
from operations.selectors import deployments as selectors
from operations.services import deployments as services
from portal.forms import add_service_errors
from portal.permissions import can, get_restricted_object_or_404
from portal.views.generic import service_error_message

DEPLOYMENTS_PER_PAGE = 50


def deployments_tab_context(request, use_case) -> dict:
    context = selectors.deployments_tab(user=request.user, use_case=use_case)
    if context["may_deploy"]:
        context["deploy_form"] = DeploymentForm(use_case=use_case)
    return context


@login_required
def deployment_new(request, key: str):
    use_case = use_case_for(user=request.user, key=key)
    if not may_deploy(request.user, use_case):
        raise PermissionDenied(f"Only the team that owns {use_case.key} (or an admin) deploys it.")
    form = DeploymentForm(request.POST or None, use_case=use_case)
    if request.method == "POST" and form.is_valid():
        try:
            deployment = services.deployment_request(
                actor=request.user,
                use_case=use_case,
                release=form.cleaned_data["release"],
                environment=form.cleaned_data["environment"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"Deployment #{deployment.pk} of {use_case.key} {deployment.release.version} to "
                f"{deployment.environment.name} queued.",
            )
            return redirect(deployment)
    covered = selectors.covered_release_ids(use_case=use_case)
    return render(
        request,
        "operations/deployment_form.html",
        {
            "use_case": use_case,
            "form": form,
            "covered_releases": [
                release for release in form.fields["release"].queryset if release.pk in covered
            ],
        },
    )


def _deployment_or_404(request, pk: int, action: str = "view") -> Deployment:
    return get_restricted_object_or_404(
        Deployment.objects.select_related(*selectors.DEPLOYMENT_RELATED, "job_run"),
        request.user,
        action,
        pk=pk,
    )


def _detail_context(request, deployment: Deployment) -> dict:
    may_roll_back = deployment.is_current and can(request.user, "custom:rollback", deployment)
    candidate, reason = services.rollback_candidate(deployment) if may_roll_back else (None, "")
    return {
        "deployment": deployment,
        "events": selectors.deployment_events(deployment),
        "in_flight": deployment.status in DeploymentStatusChoices.IN_FLIGHT,
        "may_roll_back": may_roll_back,
        "rollback_to": candidate,
        "rollback_refusal": reason,
    }


@login_required
def deployment_detail(request, pk: int):
    deployment = _deployment_or_404(request, pk)
    return render(request, "operations/deployment_detail.html", _detail_context(request, deployment))


@login_required
def deployment_status(request, pk: int):
    """The live part of the detail page; htmx polls it while the deployment is in flight."""
    deployment = _deployment_or_404(request, pk)
    return render(request, "operations/_deployment_status.html", _detail_context(request, deployment))


@require_POST
@login_required
def deployment_rollback(request, pk: int):
    deployment = _deployment_or_404(request, pk, "custom:rollback")
    try:
        rollback = services.deployment_rollback(actor=request.user, deployment=deployment)
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
        return redirect(deployment)
    messages.success(
        request,
        f"Rollback #{rollback.pk} to release {rollback.release.version} in {rollback.environment.name} queued.",
    )
    return redirect(rollback)


@login_required
def deployment_list(request):
    filterset, deployments = selectors.deployment_list(user=request.user, params=request.GET)
    page = Paginator(deployments, DEPLOYMENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "operations/deployment_list.html",
        {
            "filterset": filterset,
            "page": page,
            "deployments": page.object_list,
            "environments": Environment.objects.all(),
            "statuses": DeploymentStatusChoices.pairs(),
            "selected": {
                "environment": request.GET.get("environment", ""),
                "status": request.GET.getlist("status"),
                "use_case": request.GET.get("use_case", ""),
            },
        },
    )
