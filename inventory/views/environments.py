"""Environments (everyone reads them; administrators add and change them)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from inventory.forms import EnvironmentForm
from inventory.models import Environment
from inventory.services.environments import environment_create, environment_update
from portal.permissions import Action, can_add, restrict
from portal.views.generic import object_to_edit, service_edit_view


@login_required
def environment_list(request):
    environments = restrict(Environment.objects.all(), request.user)
    changeable = set(
        restrict(Environment.objects.all(), request.user, Action.CHANGE).values_list("pk", flat=True)
    )
    return render(
        request,
        "inventory/environment_list.html",
        {
            "rows": [(environment, environment.pk in changeable) for environment in environments],
            "can_add": can_add(request.user, Environment),
        },
    )


@login_required
def environment_edit(request, slug: str | None = None):
    environment = object_to_edit(
        request, Environment.objects.all(), refusal="Only administrators configure environments.", slug=slug
    )
    form = EnvironmentForm(request.POST or None, instance=environment)

    def save(data):
        if environment is None:
            return environment_create(**data)
        return environment_update(environment=environment, **data)

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="inventory/environment_form.html",
        context={"environment": environment},
        success_url="inventory:environment-list",
        success_message=lambda saved: (
            f"Environment “{saved.name}” {'created' if environment is None else 'saved'}."
        ),
    )
