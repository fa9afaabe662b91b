"""Operations' API routes, registered on the portal's router from ``OperationsConfig.ready()``."""

from django.urls import path

from operations.api.deployments import DeploymentCallbackView, DeploymentViewSet
from operations.api.signals import HealthSignalViewSet, HealthThresholdViewSet
from operations.api.targets import DeploymentTargetViewSet

viewsets = (
    ("deployment-targets", DeploymentTargetViewSet),
    ("deployments", DeploymentViewSet),
    ("signals", HealthSignalViewSet),
    ("health-thresholds", HealthThresholdViewSet),
)

urlpatterns = [
    path("deployments/<int:pk>/callback/", DeploymentCallbackView.as_view(), name="deployment-callback"),
]
