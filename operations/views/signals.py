"""The use case's Health tab and its threshold forms. The tab is registered into
``inventory.usecase_tabs`` from ``OperationsConfig.ready()``; the owning team (and admins) add,
change and remove thresholds (``may_set_thresholds``), everyone who sees the use case reads it."""

from django.contrib.auth.decorators import login_required
from django.urls import reverse

from inventory import usecase_tabs
from inventory.selectors.usecases import use_case_for
from operations.forms.signals import HealthThresholdForm
from operations.models import HealthThreshold
from operations.policies import may_set_thresholds
from operations.selectors.signals import use_case_health
from operations.services.signals import health_threshold_delete, health_threshold_save
from portal.models import TokenScope
from portal.views.generic import object_to_edit, service_delete_view, service_edit_view


def _health_tab(use_case) -> str:
    return use_case.get_absolute_url() + "?tab=health"


def _health(request, use_case) -> dict:
    return {
        **use_case_health(user=request.user, use_case=use_case),
        "may_set_thresholds": may_set_thresholds(request.user, use_case),
        "signals_endpoint": request.build_absolute_uri(reverse("api:healthsignal-list")),
        "signals_scope": TokenScope.SIGNALS_INGEST,
    }


def register() -> None:
    usecase_tabs.register(
        "health", "Health", order=55, template="operations/health_tab.html", context=_health
    )


@login_required
def threshold_edit(request, key: str, pk: int | None = None):
    """Add a threshold to the use case, or change one."""
    use_case = use_case_for(user=request.user, key=key)
    threshold = object_to_edit(
        request,
        HealthThreshold.objects.filter(use_case=use_case),
        refusal="The owning team sets a use case's health thresholds.",
        may_add=lambda: may_set_thresholds(request.user, use_case),
        pk=pk,
    )
    form = HealthThresholdForm(request.POST or None, instance=threshold)

    def save(data):
        if threshold is None:
            return health_threshold_save(use_case=use_case, **data)
        return health_threshold_save(threshold=threshold, **data)

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="operations/health_threshold_form.html",
        context={"use_case": use_case, "threshold": threshold},
        success_url=_health_tab(use_case),
        success_message=lambda saved: f"Threshold for {saved} saved.",
    )


@login_required
def threshold_delete(request, key: str, pk: int):
    use_case = use_case_for(user=request.user, key=key)
    return service_delete_view(
        request,
        HealthThreshold.objects.filter(use_case=use_case),
        pk=pk,
        delete=lambda threshold: health_threshold_delete(threshold=threshold),
        success_url=_health_tab(use_case),
        success_message=lambda threshold: f"Threshold for {threshold} removed.",
        cancel_url=_health_tab(use_case),
    )
