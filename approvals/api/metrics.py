"""CoE metrics over the API: the same figures as the metrics page (approvals.selectors.metrics)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.policies import may_view_coe_metrics
from approvals.selectors import metrics


class MetricsWindowSerializer(serializers.Serializer):
    since = serializers.DateField(
        required=False, help_text="First day (UTC), default 89 days before `until`."
    )
    until = serializers.DateField(required=False, help_text="Last day (UTC), default today.")


class DecisionTimesSerializer(serializers.Serializer):
    gate = serializers.CharField(help_text="From stage → to stage.")
    tier = serializers.CharField(help_text="Risk tier at submission; empty when not classified.")
    tier_label = serializers.CharField()
    decided = serializers.IntegerField(source="count", help_text="Waits a decision ended in the window.")
    median_hours = serializers.DecimalField(max_digits=12, decimal_places=1)
    p90_hours = serializers.DecimalField(max_digits=12, decimal_places=1)
    mean_hours = serializers.DecimalField(max_digits=12, decimal_places=1)
    within_sla_percent = serializers.DecimalField(
        max_digits=4, decimal_places=0, help_text="Share decided within the policy's review deadline."
    )
    outcomes = serializers.DictField(
        child=serializers.IntegerField(), help_text="changes_requested / approved / rejected → count."
    )


class QueuePointSerializer(serializers.Serializer):
    day = serializers.DateField()
    waiting = serializers.IntegerField(
        help_text="Requests waiting for reviewers at the end of the day (UTC)."
    )
    by_tier = serializers.DictField(child=serializers.IntegerField())


class QueueNowSerializer(serializers.Serializer):
    waiting = serializers.IntegerField()
    overdue = serializers.IntegerField()
    by_tier = serializers.DictField(child=serializers.IntegerField())
    oldest_waiting_hours = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)


class CoeMetricsSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    decided = serializers.IntegerField()
    median_hours = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
    time_to_decision = DecisionTimesSerializer(many=True)
    queue_length = QueuePointSerializer(many=True)
    queue_now = QueueNowSerializer()


class CoeMetricsView(APIView):
    """Time to decision per gate and risk tier, and the review queue's length per day, for a
    window of at most 366 days. For CoE reviewers, executives, auditors and admins."""

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="First day, YYYY-MM-DD."),
            OpenApiParameter("until", str, description="Last day, YYYY-MM-DD."),
        ],
        responses=CoeMetricsSerializer,
    )
    def get(self, request):
        if not may_view_coe_metrics(request.user):
            raise PermissionDenied("CoE metrics are for CoE reviewers, executives, auditors and admins.")
        window = MetricsWindowSerializer(data=request.query_params)
        window.is_valid(raise_exception=True)
        result = metrics.coe_metrics(**window.validated_data)
        return Response(CoeMetricsSerializer(result).data)
