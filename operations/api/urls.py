"""Operations' API routes, registered on the portal's router from ``OperationsConfig.ready()``."""

from operations.api.signals import HealthSignalViewSet, HealthThresholdViewSet
from operations.api.targets import DeploymentTargetViewSet

viewsets = (
    ("deployment-targets", DeploymentTargetViewSet),
    ("signals", HealthSignalViewSet),
    ("health-thresholds", HealthThresholdViewSet),
)

urlpatterns: list = []
