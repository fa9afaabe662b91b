from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from costs.api.serializers import (
    CostImportSerializer,
    CostSourceSerializer,
    ImportRunSerializer,
    ImportUploadSerializer,
)
from costs.ingest.errors import CostImportError
from costs.models import CostImport, CostSource
from costs.services.imports import cost_upload_store
from costs.services.sources import cost_source_create, cost_source_update
from costs.tasks import import_cost_source
from portal import jobs
from portal.api import parsers as api_parsers
from portal.api.serializers import JobRunSerializer
from portal.api.views import RestrictedModelViewSet, RestrictedReadOnlyViewSet
from portal.choices import ChannelChoices
from portal.permissions import Action, restrict


class CostSourceViewSet(RestrictedModelViewSet):
    """Billing feeds (administrators configure; executives, the CoE and auditors read).

    The AWS secret access key is write-only: it is never in an answer (``has_secret`` says
    whether one is stored)."""

    queryset = CostSource.objects.all()
    serializer_class = CostSourceSerializer
    filterset_fields = ["kind", "enabled"]
    search_fields = ["name", "location"]
    ordering_fields = ["name", "created_at"]

    def perform_create(self, serializer):
        self.check_add_permission()
        serializer.instance = cost_source_create(**serializer.validated_data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = cost_source_update(
            source=serializer.instance, secret_access_key=data.pop("secret_access_key", None), **data
        )


class CostImportViewSet(RestrictedReadOnlyViewSet):
    """Billing imports: one per source, billing period and delivery. Administrators run them
    (``run``, ``upload``); executives, the CoE and auditors read them. ``is_current`` marks the
    import whose line items count for its period; ``totals`` are per currency, to the cent and
    beyond (decimal strings)."""

    queryset = CostImport.objects.select_related("source")
    serializer_class = CostImportSerializer
    filterset_fields = ["source", "status", "format", "is_current", "billing_period_start"]
    search_fields = ["source__name", "location", "identifier"]
    ordering_fields = ["started_at", "billing_period_start"]

    def _source_for_import(self, source: CostSource) -> CostSource:
        if not restrict(CostSource.objects.filter(pk=source.pk), self.request.user, Action.VIEW).exists():
            raise exceptions.NotFound("No cost source matches the given query.")
        return source

    def _enqueue(self, request, **arguments) -> Response:
        run = jobs.enqueue(import_cost_source, actor=request.user, channel=ChannelChoices.API, **arguments)
        return Response(
            JobRunSerializer(run, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=ImportRunSerializer, responses={202: JobRunSerializer})
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def run(self, request):
        """Import a source now (administrators): its own location, or the one given. Answers
        with the job; follow ``/api/jobs/{id}/`` for progress and the error message, if any."""
        self.check_add_permission()
        payload = ImportRunSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        source = self._source_for_import(payload.validated_data["source"])
        arguments = {"source_id": source.pk}
        if payload.validated_data.get("location"):
            arguments["location"] = payload.validated_data["location"]
        if payload.validated_data.get("periods"):
            arguments["periods"] = [f"{month}-01" for month in payload.validated_data["periods"]]
        return self._enqueue(request, **arguments)

    @extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses={202: JobRunSerializer})
    @action(
        detail=False,
        methods=["post"],
        parser_classes=[api_parsers.MultiPartParser, api_parsers.FormParser],
        filter_backends=[],
        pagination_class=None,
    )
    def upload(self, request):
        """Upload a FOCUS file (.csv, .csv.gz, .parquet) into a FOCUS source (administrators).
        The file is checked (type, size) before the import job is queued."""
        self.check_add_permission()
        payload = ImportUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        source = self._source_for_import(payload.validated_data["source"])
        try:
            path = cost_upload_store(source=source, uploaded_file=payload.validated_data["file"])
        except CostImportError as exc:
            raise exceptions.ValidationError({"file": [str(exc)]}) from exc
        return self._enqueue(request, source_id=source.pk, location=str(path), remove_after=True)
