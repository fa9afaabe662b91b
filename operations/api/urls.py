"""Operations' API routes, registered on the portal's router from ``OperationsConfig.ready()``."""

from operations.api.targets import DeploymentTargetViewSet

viewsets = (("deployment-targets", DeploymentTargetViewSet),)

urlpatterns = []
