"""Pages of deployment targets: admins configure them and send test events; the CoE and
auditors read them. Secrets never reach a page: the form's secret fields are always empty."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from operations.forms.targets import DeploymentTargetForm
from operations.models import DeploymentTarget
from operations.policies import may_view_targets
from operations.selectors.targets import targets_visible_to
from operations.services.targets import (
    target_create,
    target_delete,
    target_send_test,
    target_set_enabled,
    target_update,
)
from portal.permissions import Action, can, can_add, get_restricted_object_or_404
from portal.views.generic import object_to_edit, service_delete_view, service_edit_view, service_error_message


def _require_reader(user) -> None:
    if not may_view_targets(user):
        raise PermissionDenied("Deployment targets are for administrators, the CoE and auditors.")


@login_required
def target_list(request):
    _require_reader(request.user)
    return render(
        request,
        "operations/target_list.html",
        {
            "targets": targets_visible_to(request.user),
            "can_add": can_add(request.user, DeploymentTarget),
        },
    )


@login_required
def target_detail(request, slug: str):
    target = get_restricted_object_or_404(
        DeploymentTarget.objects.select_related("environment", "use_case"), request.user, slug=slug
    )
    return render(
        request,
        "operations/target_detail.html",
        {
            "target": target,
            "options_json": json.dumps(target.options, indent=2, sort_keys=True),
            "can_change": can(request.user, Action.CHANGE, target),
            "can_delete": can(request.user, Action.DELETE, target),
            "can_test": can(request.user, "custom:test", target),
            "deployment_count": target.deployments.count(),
        },
    )


@login_required
def target_edit(request, slug: str | None = None):
    target = object_to_edit(
        request,
        DeploymentTarget.objects.select_related("environment", "use_case"),
        refusal="Only administrators configure deployment targets.",
        slug=slug,
    )
    form = DeploymentTargetForm(request.POST or None, instance=target, user=request.user)

    def save(_data):
        arguments = form.service_arguments()
        if target is None:
            return target_create(**arguments)
        return target_update(target=target, **arguments)

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="operations/target_form.html",
        context={"target": target},
        success_url=lambda saved: saved,
        success_message=lambda saved: (
            f"Deployment target “{saved.name}” {'created' if target is None else 'saved'}."
        ),
    )


@require_POST
@login_required
def target_test(request, slug: str):
    target = get_restricted_object_or_404(
        DeploymentTarget.objects.all(), request.user, "custom:test", slug=slug
    )
    outcome = target_send_test(actor=request.user, target=target)
    if outcome.ok:
        messages.success(request, f"Test event to “{target.name}”: {outcome.message}")
    else:
        messages.error(request, f"Test event to “{target.name}” failed: {outcome.message}")
    return redirect(target)


@require_POST
@login_required
def target_toggle(request, slug: str):
    target = get_restricted_object_or_404(
        DeploymentTarget.objects.all(), request.user, Action.CHANGE, slug=slug
    )
    try:
        saved = target_set_enabled(target=target, enabled=not target.enabled)
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
        return redirect(target)
    messages.success(request, f"“{saved.name}” {'enabled' if saved.enabled else 'disabled'}.")
    return redirect(saved)


@login_required
def target_delete_view(request, slug: str):
    return service_delete_view(
        request,
        DeploymentTarget.objects.all(),
        delete=lambda target: target_delete(target=target),
        success_url="operations:target-list",
        failure_url=lambda target: target,
        success_message=lambda target: f"Deployment target “{target.name}” deleted.",
        slug=slug,
    )
