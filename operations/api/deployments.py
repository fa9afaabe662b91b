"""The deployments API: list (filters, pagination), retrieve, create and roll back through the
same service as the pages (a refusal answers 400 with its message), and the targets' signed
status callback. Thin callers of operations.services.deployments."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from operations.api.serializers import (
    CallbackErrorSerializer,
    DeploymentCallbackSerializer,
    DeploymentDetailSerializer,
    DeploymentRequestSerializer,
    DeploymentSerializer,
)
from operations.models import Deployment
from operations.policies import may_deploy
from operations.selectors.deployments import DEPLOYMENT_RELATED, DeploymentFilterSet
from operations.services import deployments as services
from portal.api.views import RestrictedViewSetMixin, permission_action
from portal.choices import ChannelChoices


class DeploymentViewSet(RestrictedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Deployments of releases to environments. POST queues one (the owning team; production
    needs a valid approval of that exact release); ``rollback`` redeploys the previous release.
    The outcome arrives by the target's signed callback or by polling."""

    queryset = Deployment.objects.select_related(*DEPLOYMENT_RELATED)
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilterSet
    ordering_fields = ["requested_at", "finished_at"]
    search_fields = ["use_case__key", "use_case__name", "release__version"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("events__actor")
        return queryset

    def get_serializer_class(self):
        return DeploymentDetailSerializer if self.action == "retrieve" else DeploymentSerializer

    def _answer(self, deployment, code=status.HTTP_201_CREATED) -> Response:
        deployment = Deployment.objects.select_related(*DEPLOYMENT_RELATED).get(pk=deployment.pk)
        return Response(
            DeploymentSerializer(deployment, context=self.get_serializer_context()).data, status=code
        )

    @extend_schema(request=DeploymentRequestSerializer, responses={201: DeploymentSerializer})
    def create(self, request, *args, **kwargs):
        self.check_add_permission()
        payload = DeploymentRequestSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        use_case = payload.validated_data["use_case"]
        if not may_deploy(request.user, use_case):
            self.permission_denied(request, message=f"You may not deploy {use_case.key}.")
        deployment = services.deployment_request(
            actor=request.user,
            use_case=use_case,
            release=payload.validated_data["release"],
            environment=payload.validated_data["environment"],
            channel=ChannelChoices.API,
        )
        return self._answer(deployment)

    @extend_schema(request=None, responses={201: DeploymentSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    @permission_action("custom:rollback")
    def rollback(self, request, pk=None):
        """Redeploy the release that succeeded in this environment before this (current) one."""
        deployment = services.deployment_rollback(
            actor=request.user, deployment=self.get_object(), channel=ChannelChoices.API
        )
        return self._answer(deployment)


class DeploymentCallbackView(APIView):
    """A target reports a deployment's status. Authenticated by the HMAC signature
    (``X-Propylon-Timestamp``, ``X-Propylon-Signature`` = ``sha256=`` HMAC-SHA256 over
    ``"<timestamp>." + body`` with the target's callback secret); a timestamp outside the
    replay window or a signature already used is refused."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="deployments_callback",
        request=DeploymentCallbackSerializer,
        responses={
            200: DeploymentSerializer,
            403: OpenApiResponse(
                CallbackErrorSerializer, description="Signature missing, forged, stale or reused."
            ),
            404: OpenApiResponse(CallbackErrorSerializer, description="No such deployment."),
        },
        auth=[],
    )
    def post(self, request, pk: int):
        body = request.body  # the exact bytes the signature covers (read before any parsing)
        try:
            deployment = services.deployment_callback(deployment_id=pk, headers=request.headers, body=body)
        except Deployment.DoesNotExist:
            return Response({"detail": f"There is no deployment #{pk}."}, status=status.HTTP_404_NOT_FOUND)
        except services.CallbackRejected as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        deployment = Deployment.objects.select_related(*DEPLOYMENT_RELATED).get(pk=deployment.pk)
        return Response(DeploymentSerializer(deployment, context={"request": request}).data)
