from django.urls import path

from operations.views import signals

app_name = "operations"

urlpatterns = [
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
