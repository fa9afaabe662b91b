from django.urls import path

from operations.views import deployments, signals, targets

app_name = "operations"

urlpatterns = [
    path("deployments/", deployments.deployment_list, name="deployment-list"),
    path("deployments/<int:pk>/", deployments.deployment_detail, name="deployment-detail"),
    path("deployments/<int:pk>/status/", deployments.deployment_status, name="deployment-status"),
    path("deployments/<int:pk>/rollback/", deployments.deployment_rollback, name="deployment-rollback"),
    path("use-cases/<str:key>/deployments/new/", deployments.deployment_new, name="deployment-new"),
    path("deployment-targets/", targets.target_list, name="target-list"),
    path("deployment-targets/new/", targets.target_edit, name="target-add"),
    path("deployment-targets/<slug:slug>/", targets.target_detail, name="target-detail"),
    path("deployment-targets/<slug:slug>/edit/", targets.target_edit, name="target-edit"),
    path("deployment-targets/<slug:slug>/test/", targets.target_test, name="target-test"),
    path("deployment-targets/<slug:slug>/toggle/", targets.target_toggle, name="target-toggle"),
    path("deployment-targets/<slug:slug>/delete/", targets.target_delete_view, name="target-delete"),
    path("use-cases/<str:key>/health/thresholds/new/", signals.threshold_edit, name="threshold-add"),
    path(
        "use-cases/<str:key>/health/thresholds/<int:pk>/edit/", signals.threshold_edit, name="threshold-edit"
    ),
    path(
        "use-cases/<str:key>/health/thresholds/<int:pk>/delete/",
        signals.threshold_delete,
        name="threshold-delete",
    ),
]
