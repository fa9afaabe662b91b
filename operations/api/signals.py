"""Health signals and thresholds in the API.

``POST /api/signals/`` is a machine endpoint: only an API token carrying ``signals:ingest`` may
post (a person's session, or a token without the scope, is refused with 403), for the use cases
the token's user may change (operations.services.signals explains why). ``GET /api/signals/`` is
for people: the signals of the use cases they see, filtered and paginated.
"""

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from inventory.models import Environment, UseCase
from inventory.policies import changeable_use_cases
from operations.choices import HealthMetricChoices
from operations.models import HealthSignal, HealthThreshold
from operations.policies import may_set_thresholds
from operations.services.signals import health_threshold_delete, health_threshold_save, signals_ingest
from portal.api.views import RestrictedModelViewSet, RestrictedReadOnlyViewSet
from portal.models import ApiToken, TokenScope
from portal.permissions import restrict


class SignalIngestPermission(BasePermission):
    """Posting signals needs an API token with the ``signals:ingest`` scope; reading them is the
    usual token scopes (``read``) or a session."""

    message = "Posting health signals needs an API token with the “signals:ingest” scope."

    def has_permission(self, request, view) -> bool:
        if view.action != "create":
            return True
        token = request.auth
        return isinstance(token, ApiToken) and token.has_scope(TokenScope.SIGNALS_INGEST)


class HealthSignalSerializer(serializers.ModelSerializer):
    use_case = serializers.SlugRelatedField(slug_field="key", read_only=True)
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = HealthSignal
        fields = ["id", "use_case", "environment", "metric", "value", "observed_at", "received_at"]
        read_only_fields = fields


class SignalPointSerializer(serializers.Serializer):
    """One point (documentation of the body; the service checks every point)."""

    use_case = serializers.CharField(help_text="Use case key, e.g. UC-0001.")
    environment = serializers.CharField(help_text="Environment slug, e.g. production.")
    metric = serializers.ChoiceField(choices=HealthMetricChoices.pairs())
    value = serializers.DecimalField(max_digits=20, decimal_places=6, coerce_to_string=False)
    observed_at = serializers.DateTimeField(required=False, help_text="Aware ISO 8601; default now.")


class SignalBatchSerializer(serializers.Serializer):
    signals = SignalPointSerializer(many=True, help_text="1 to 1,000 points.")


IngestResultSerializer = inline_serializer(
    "HealthSignalIngestResult",
    {
        "received": serializers.IntegerField(),
        "created": serializers.IntegerField(),
        "updated": serializers.IntegerField(),
        "unchanged": serializers.IntegerField(),
    },
)


class HealthSignalFilterSet(django_filters.FilterSet):
    use_case = django_filters.CharFilter(field_name="use_case__key", lookup_expr="iexact")
    environment = django_filters.CharFilter(field_name="environment__slug")
    metric = django_filters.ChoiceFilter(choices=HealthMetricChoices)
    since = django_filters.IsoDateTimeFilter(field_name="observed_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="observed_at", lookup_expr="lt")

    class Meta:
        model = HealthSignal
        fields = ["use_case", "environment", "metric", "since", "until"]


class HealthSignalViewSet(RestrictedReadOnlyViewSet):
    """Metric values monitoring reported per use case and environment, newest first."""

    queryset = HealthSignal.objects.select_related("use_case", "environment")
    serializer_class = HealthSignalSerializer
    filterset_class = HealthSignalFilterSet
    ordering_fields = ["observed_at", "received_at"]
    # First, so a token without the scope hears which scope posting needs.
    permission_classes = [SignalIngestPermission, *RestrictedReadOnlyViewSet.permission_classes]
    required_scope = None

    def get_permissions(self):
        # The machine scope replaces the read/write scopes for posting (TokenScopePermission).
        self.required_scope = TokenScope.SIGNALS_INGEST if self.action == "create" else None
        return super().get_permissions()

    def check_add_permission(self) -> None:
        """A machine endpoint, not "may this person add signals": the token's scope was checked by
        the permissions, and what it may post for is the service's ``use_cases``."""

    @extend_schema(
        request=SignalBatchSerializer,
        responses={201: IngestResultSerializer, 200: IngestResultSerializer},
        examples=[
            OpenApiExample(
                "One point",
                request_only=True,
                value={
                    "use_case": "UC-0001",
                    "environment": "production",
                    "metric": "accuracy",
                    "value": 0.93,
                    "observed_at": "2026-12-01T10:00:00Z",
                },
            )
        ],
        description='Post one point, or ``{"signals": [...]}`` with up to 1,000 points (a token with '
        "the ``signals:ingest`` scope). All or nothing; a repeated point is ignored (same value) or "
        "replaced (another value). 201 when something was stored, 200 when nothing changed.",
    )
    def create(self, request, *args, **kwargs):
        data = request.data
        single = isinstance(data, dict) and "signals" not in data
        points = [data] if single else data.get("signals") if isinstance(data, dict) else data
        result = signals_ingest(
            points=points, use_cases=changeable_use_cases(request.user), token=request.auth, batch=not single
        )
        answer = {
            "received": result.received,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
        }
        stored = result.created + result.updated
        return Response(answer, status=status.HTTP_201_CREATED if stored else status.HTTP_200_OK)


class HealthThresholdSerializer(serializers.ModelSerializer):
    use_case = serializers.SlugRelatedField(slug_field="key", queryset=UseCase.objects.all())
    environment = serializers.SlugRelatedField(
        slug_field="slug", queryset=Environment.objects.all(), required=False, allow_null=True,
        help_text="Empty: every environment.",
    )  # fmt: skip

    class Meta:
        model = HealthThreshold
        fields = ["id", "use_case", "environment", "metric", "minimum", "maximum", "stale_after_hours"]
        validators = []  # the service checks the threshold as a whole (bounds, one per metric)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # An invisible use case "does not exist"; on a change the use case stays put.
            self.fields["use_case"].queryset = restrict(UseCase.objects.all(), request.user)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["use_case"].read_only = True


class HealthThresholdViewSet(RestrictedModelViewSet):
    """The acceptable range of a metric per use case (every environment, or one); the owning
    team sets them. A value outside is a breach on the Health tab and an audit finding."""

    queryset = HealthThreshold.objects.select_related("use_case", "environment")
    serializer_class = HealthThresholdSerializer
    filterset_fields = {"use_case__key": ["exact"], "metric": ["exact"], "environment__slug": ["exact"]}
    ordering_fields = ["metric"]

    def perform_create(self, serializer):
        self.check_add_permission()
        use_case = serializer.validated_data.pop("use_case")
        if not may_set_thresholds(self.request.user, use_case):
            raise exceptions.PermissionDenied("The owning team sets this use case's thresholds.")
        serializer.instance = health_threshold_save(use_case=use_case, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.validated_data.pop("use_case", None)
        serializer.instance = health_threshold_save(
            threshold=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        health_threshold_delete(threshold=instance)
