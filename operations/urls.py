from django.urls import path

from operations.views import deployments

app_name = "operations"

urlpatterns = [
    path("deployments/", deployments.deployment_list, name="deployment-list"),
    path("deployments/<int:pk>/", deployments.deployment_detail, name="deployment-detail"),
    path("deployments/<int:pk>/status/", deployments.deployment_status, name="deployment-status"),
    path("deployments/<int:pk>/rollback/", deployments.deployment_rollback, name="deployment-rollback"),
    path("use-cases/<str:key>/deployments/new/", deployments.deployment_new, name="deployment-new"),
]
