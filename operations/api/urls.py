"""Operations' API routes, registered on the portal's router from ``OperationsConfig.ready()``."""

from operations.api.signals import HealthSignalViewSet, HealthThresholdViewSet

viewsets = (
    ("signals", HealthSignalViewSet),
    ("health-thresholds", HealthThresholdViewSet),
)

urlpatterns: list = []
