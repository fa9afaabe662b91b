"""The audit API: runs (list, retrieve, start one) and the catalogue of registered checks.
Starting calls approvals.services.audits.audit_run_start, as the page does; the run executes in
the background job it queues, so the answer is 202 with the run as it stands."""

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.models import AuditRun
from approvals.policies import may_audit_portfolio, may_audit_use_case
from approvals.selectors.audits import RUN_RELATED, check_catalogue
from approvals.services.audits import audit_run_start
from inventory.api.serializers import VisibleUseCaseField
from portal.api.serializers import UserBriefSerializer
from portal.api.views import RestrictedViewSetMixin
from portal.choices import ChannelChoices, JobStatusChoices, SeverityChoices


class AuditCheckSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    severity = serializers.ChoiceField(choices=SeverityChoices.pairs())
    description = serializers.CharField()
    controls = serializers.ListField(
        child=serializers.CharField(), help_text="Control ids this check evidences."
    )
    per_use_case = serializers.BooleanField(help_text="False: runs in portfolio audits only.")


class CheckCountsSerializer(serializers.Serializer):
    observed = serializers.IntegerField()
    opened = serializers.IntegerField()
    cleared = serializers.IntegerField()


class AuditCountsSerializer(serializers.Serializer):
    observed = serializers.IntegerField()
    opened = serializers.IntegerField()
    reopened = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Findings seen again.")
    cleared = serializers.IntegerField(help_text="Live findings no longer observed: resolved.")
    per_check = serializers.DictField(child=CheckCountsSerializer())
    errors = serializers.DictField(child=serializers.CharField(), help_text="Check id → its error.")


class AuditRunSerializer(serializers.ModelSerializer):
    use_case = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    requested_by = UserBriefSerializer(read_only=True, allow_null=True)
    job = serializers.PrimaryKeyRelatedField(source="job_run", read_only=True, allow_null=True)
    counts = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=JobStatusChoices.pairs(), read_only=True)

    class Meta:
        model = AuditRun
        fields = ["id", "use_case", "status", "requested_by", "channel", "job", "started_at", "finished_at",
                  "duration_ms", "checks_run", "counts", "error"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(AuditCountsSerializer(allow_null=True))
    def get_counts(self, run: AuditRun) -> dict | None:
        return run.counts or None  # a queued or running run has counted nothing yet


class AuditRunStartSerializer(serializers.Serializer):
    use_case = VisibleUseCaseField(
        required=False, allow_null=True, help_text="A use case's key; null or absent: the whole portfolio."
    )


class AuditRunFilterSet(django_filters.FilterSet):
    use_case = django_filters.CharFilter(field_name="use_case__key", label="Use case key")
    portfolio = django_filters.BooleanFilter(
        field_name="use_case", lookup_expr="isnull", label="Portfolio runs"
    )
    status = django_filters.MultipleChoiceFilter(choices=JobStatusChoices.pairs())

    class Meta:
        model = AuditRun
        fields = ["use_case", "portfolio", "status"]


class AuditRunViewSet(RestrictedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Audit runs, newest first: the portfolio's for its overseers, a use case's for whoever
    reads it. POST starts one (202): the CoE and admins for the portfolio or any use case, a
    team for its own use cases. Its job (``/api/jobs/<job>/``) shows progress."""

    queryset = AuditRun.objects.select_related(*RUN_RELATED)
    serializer_class = AuditRunSerializer
    filterset_class = AuditRunFilterSet
    ordering_fields = ["started_at", "finished_at", "duration_ms"]
    ordering = ["-started_at", "-pk"]

    @extend_schema(request=AuditRunStartSerializer, responses={202: AuditRunSerializer})
    def create(self, request, *args, **kwargs):
        payload = AuditRunStartSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        use_case = payload.validated_data.get("use_case")
        if use_case is None and not may_audit_portfolio(request.user):
            raise exceptions.PermissionDenied(
                "Only the CoE and admins run the audit over the whole portfolio."
            )
        if use_case is not None and not may_audit_use_case(request.user, use_case):
            raise exceptions.PermissionDenied(f"You may not audit {use_case.key}.")
        run = audit_run_start(actor=request.user, use_case=use_case, channel=ChannelChoices.API)
        run = self.get_queryset().get(pk=run.pk)
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)


class AuditCheckListView(APIView):
    """The registered audit checks, most severe first: what a run executes."""

    @extend_schema(responses=AuditCheckSerializer(many=True))
    def get(self, request):
        return Response(AuditCheckSerializer(check_catalogue(), many=True).data)
