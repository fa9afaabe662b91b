import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from portal import jobs
from portal.api.serializers import (
    JobDefinitionSerializer,
    JobRunDetailSerializer,
    JobRunSerializer,
    JobStartSerializer,
)
from portal.api.views import RestrictedReadOnlyViewSet, permission_action
from portal.choices import ChannelChoices, JobStatusChoices
from portal.models import JobRun


class JobRunFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=JobStatusChoices)
    channel = django_filters.MultipleChoiceFilter(choices=ChannelChoices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = JobRun
        fields = ["status", "task_name", "channel", "actor"]


class JobRunViewSet(RestrictedReadOnlyViewSet):
    """Background job runs: status, progress, log, error and timings."""

    queryset = JobRun.objects.select_related("actor")
    filterset_class = JobRunFilterSet
    search_fields = ["label", "task_name", "progress_message"]
    ordering_fields = ["created_at", "started_at", "finished_at", "status"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("log_lines")
        return queryset

    def get_serializer_class(self):
        return JobRunDetailSerializer if self.action == "retrieve" else JobRunSerializer

    @extend_schema(request=None, responses=JobRunSerializer)
    @action(detail=True, methods=["post"])
    @permission_action("custom:cancel")
    def cancel(self, request, pk=None):
        """Ask a queued or running job to stop."""
        run = self.get_object()
        if not jobs.cancel(run):
            raise exceptions.ValidationError({"status": [f"The job has already finished ({run.status})."]})
        run.refresh_from_db()
        return Response(JobRunSerializer(run, context={"request": request}).data)

    @extend_schema(responses=JobDefinitionSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def definitions(self, request):
        """Every job Propylon knows; admins may start the on-demand ones."""
        definitions = sorted(jobs.JOB_REGISTRY.values(), key=lambda d: d.name)
        return Response(JobDefinitionSerializer(definitions, many=True).data)

    @extend_schema(request=JobStartSerializer, responses={202: JobRunSerializer})
    @action(detail=False, methods=["post"], filter_backends=[])
    def start(self, request):
        """Start an on-demand job (administrators; auditors may start verification)."""
        if not any(d.may_start(request.user) for d in jobs.JOB_REGISTRY.values()):
            raise exceptions.PermissionDenied("Your roles do not allow starting jobs by hand.")
        serializer = JobStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        definition = jobs.JOB_REGISTRY.get(serializer.validated_data["task"])
        if definition is None or not definition.on_demand:
            raise exceptions.ValidationError({"task": ["No on-demand job has this name."]})
        if not definition.may_start(request.user):
            raise exceptions.PermissionDenied("Your roles do not allow starting this job.")
        run = jobs.enqueue(definition.task, actor=request.user, channel=ChannelChoices.API)
        run.refresh_from_db()
        return Response(
            JobRunSerializer(run, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )
