"""Operations' API routes, registered on the portal's router from ``OperationsConfig.ready()``."""

from django.urls import path

from operations.api.deployments import DeploymentCallbackView, DeploymentViewSet

viewsets = (("deployments", DeploymentViewSet),)

urlpatterns = [
    path("deployments/<int:pk>/callback/", DeploymentCallbackView.as_view(), name="deployment-callback"),
]
