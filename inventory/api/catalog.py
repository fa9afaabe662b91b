"""API for use cases and what they are built from. Writes go through inventory.services.usecases."""

from pathlib import PurePath

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory.api.serializers import (
    ComponentSerializer,
    DatasetSerializer,
    DatasetVersionSerializer,
    DataSourceSerializer,
    EnvironmentSerializer,
    KpiSerializer,
    ModelSerializer,
    ModelVersionSerializer,
    PromptTemplateSerializer,
    PromptVersionSerializer,
    ReleaseSerializer,
    UseCaseSerializer,
)
from inventory.api.transfer import (
    DESCRIPTOR_RENDERERS,
    EXPORT_RENDERERS,
    DuplicateClusterSerializer,
    ImportReportSerializer,
    ImportRequestSerializer,
    NotDuplicateResultSerializer,
    NotDuplicateSerializer,
    SimilarMatchSerializer,
    SimilarQuerySerializer,
    import_report,
)
from inventory.choices import AssetKindChoices
from inventory.filtersets import UseCaseFilterSet
from inventory.models import (
    Component,
    Dataset,
    DatasetVersion,
    DataSource,
    Environment,
    Kpi,
    Model,
    ModelVersion,
    NotDuplicate,
    PromptTemplate,
    PromptVersion,
    Release,
    UseCase,
)
from inventory.policies import may_file_for_team
from inventory.selectors import duplicates
from inventory.selectors.exporting import EXPORT_FORMATS, XLSX_CONTENT_TYPE, export_use_cases
from inventory.selectors.usecases import use_case_for
from inventory.services import catalog as catalog_services
from inventory.services import usecases as services
from inventory.services.descriptors import descriptor_filename, dump_descriptor
from inventory.services.importing import (
    MAX_IMPORT_BYTES,
    ImportFileError,
    ImportLimits,
    ImportTooLarge,
    commit_import,
    may_import,
    parse_upload,
    validate_rows,
)
from inventory.services.usecases import OPTIONAL_PEOPLE_FIELDS
from inventory.tasks import check_use_case_import, import_use_cases, store_upload
from portal import jobs
from portal.api import parsers as api_parsers
from portal.api.serializers import JobRunSerializer
from portal.api.views import RestrictedModelViewSet, permission_action
from portal.choices import ChannelChoices
from portal.permissions import Action, can, can_add


class OwnersSerializer(serializers.Serializer):
    accountable_owner = serializers.CharField(required=False)
    technical_owner = serializers.CharField(required=False, allow_null=True)
    business_sponsor = serializers.CharField(required=False, allow_null=True)
    data_steward = serializers.CharField(required=False, allow_null=True)
    escalation_contact = serializers.CharField(required=False, allow_null=True)


class UseCaseViewSet(RestrictedModelViewSet):
    """AI use cases: filter with the same parameters as the list page (q, stage, tier, team, bu,
    owner, ai_kind, sensitivity, tag, orphaned, draft, visibility, sort)."""

    # The optional people are prefetched, not joined: a ten-table join costs PostgreSQL ~50 ms
    # to plan and 3 ms to run (docs/benchmarks.md); four `id IN (...)` queries cost ~1 ms.
    queryset = UseCase.objects.select_related(
        "owning_team", "business_unit", "lifecycle_stage", "accountable_owner"
    ).prefetch_related(*OPTIONAL_PEOPLE_FIELDS)
    serializer_class = UseCaseSerializer
    filterset_class = UseCaseFilterSet
    lookup_field = "key"
    search_fields = []  # the filter set's "q" searches key, name and purpose
    ordering_fields = []  # the filter set's "sort" orders

    def get_queryset(self):
        return super().get_queryset().with_ownership_health()

    def get_object(self):
        self.kwargs[self.lookup_field] = self.kwargs[self.lookup_field].upper()
        return super().get_object()

    def perform_create(self, serializer):
        self.check_add_permission()
        data = dict(serializer.validated_data)
        if not may_file_for_team(self.request.user, data["owning_team"]):
            raise exceptions.PermissionDenied("You file use cases only for teams you belong to.")
        serializer.instance = services.usecase_create(actor=self.request.user, **data)

    def perform_update(self, serializer):
        use_case = serializer.instance
        data = dict(serializer.validated_data)
        submit = data.pop("submit", False)
        changes = {field: value for field, value in data.items() if getattr(use_case, field) != value}
        if "owning_team" in changes and not may_file_for_team(self.request.user, changes["owning_team"]):
            raise exceptions.PermissionDenied("You may move a use case only to a team you belong to.")
        serializer.instance = services.usecase_update(use_case=use_case, actor=self.request.user, **changes)
        if submit and use_case.is_draft:
            services.usecase_submit(use_case=use_case, actor=self.request.user)

    def perform_destroy(self, instance):
        services.usecase_delete(use_case=instance)

    @extend_schema(request=None, responses=UseCaseSerializer)
    @action(detail=True, methods=["post"])
    @permission_action("custom:submit")
    def submit(self, request, key=None):
        """Submit a draft: it enters the lifecycle as proposed."""
        use_case = self.get_object()
        services.usecase_submit(use_case=use_case, actor=request.user)
        return Response(UseCaseSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=OwnersSerializer, responses=UseCaseSerializer)
    @action(detail=True, methods=["post"])
    @permission_action("custom:reassign")
    def reassign(self, request, key=None):
        """Reassign owners (CoE reviewers and leads): people by username; null clears a role."""

        use_case = self.get_object()
        payload = OwnersSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        people = {}
        for role, username in payload.validated_data.items():
            if username is None:
                people[role] = None
                continue
            person = get_user_model().objects.filter(username=username).first()
            if person is None:
                raise exceptions.ValidationError({role: [f"No person named “{username}”."]})
            people[role] = person
        services.usecase_reassign_owners(use_case=use_case, actor=request.user, **people)
        return Response(UseCaseSerializer(self.get_object(), context=self.get_serializer_context()).data)

    #
    # Duplicates
    #

    @extend_schema(
        methods=["GET"], parameters=[SimilarQuerySerializer], responses=SimilarMatchSerializer(many=True)
    )
    @extend_schema(
        methods=["POST"], request=SimilarQuerySerializer, responses=SimilarMatchSerializer(many=True)
    )
    @action(detail=False, methods=["get", "post"], pagination_class=None, filterset_class=None)
    def similar(self, request):
        """Use cases you may see whose name, purpose and tags overlap the given text, best first
        (what the intake form shows while a purpose is typed). POST the same fields as a body
        for a long purpose: a query string that long is refused (414) by servers and proxies."""
        query = SimilarQuerySerializer(
            data=request.data if request.method == "POST" else request.query_params
        )
        query.is_valid(raise_exception=True)
        values = query.validated_data
        exclude = None
        if values["exclude"]:
            exclude = use_case_for(user=request.user, key=values["exclude"].upper())
        matches = duplicates.similar_use_cases(
            user=request.user,
            name=values["name"],
            purpose=values["purpose"],
            tags=services.normalise_tags(values["tags"]),
            exclude=exclude,
            limit=values["limit"],
        )
        context = self.get_serializer_context()
        return Response(SimilarMatchSerializer(matches, many=True, context=context).data)

    @extend_schema(responses=DuplicateClusterSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def duplicates(self, request):
        """Clusters of likely duplicates among the use cases you may see, biggest first; pairs
        marked "not a duplicate" are left out."""
        clusters = duplicates.duplicate_clusters(user=request.user)
        context = self.get_serializer_context()
        return Response(DuplicateClusterSerializer(clusters, many=True, context=context).data)

    @extend_schema(request=NotDuplicateSerializer, responses={201: NotDuplicateResultSerializer})
    @action(detail=True, methods=["post"], url_path="not-duplicate")
    @permission_action(Action.VIEW)
    def not_duplicate(self, request, key=None):
        """Mark this use case and ``other`` as not duplicates: the finder stops pairing them."""

        if not can_add(request.user, NotDuplicate):
            raise exceptions.PermissionDenied("Your roles do not allow marking use cases.")
        use_case = self.get_object()
        payload = NotDuplicateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        other = self.get_queryset().filter(key=payload.validated_data["other"].strip().upper()).first()
        if other is None:
            raise exceptions.ValidationError({"other": [f"No use case “{payload.validated_data['other']}”."]})
        pair = services.mark_not_duplicate(
            first=use_case, second=other, actor=request.user, reason=payload.validated_data["reason"]
        )
        return Response(NotDuplicateResultSerializer(pair).data, status=status.HTTP_201_CREATED)

    #
    # Moving the inventory in and out
    #

    @extend_schema(
        parameters=[OpenApiParameter("file_format", str, OpenApiParameter.PATH, enum=list(EXPORT_FORMATS))],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY,
            (200, "application/json"): {"type": "array", "items": {"type": "object"}},
        },
    )
    @action(
        detail=False,
        methods=["get"],
        url_path=r"export\.(?P<file_format>csv|xlsx|json)",
        renderer_classes=EXPORT_RENDERERS,
        pagination_class=None,
    )
    def export(self, request, file_format=None):
        """The filtered inventory (the list's filters apply) as CSV, XLSX or JSON; spreadsheet
        cells that would start a formula are neutralised. Recorded in the audit trail."""
        return export_use_cases(self.filter_queryset(self.get_queryset()), file_format=file_format)

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={
            200: ImportReportSerializer,
            # The report when rows are wrong; the usual error when the file itself is unreadable.
            400: {
                "anyOf": [
                    {"$ref": "#/components/schemas/ImportReport"},
                    {"$ref": "#/components/schemas/Error"},
                ]
            },
            # A file too large to check inside the request goes to the import jobs.
            202: JobRunSerializer,
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[api_parsers.MultiPartParser, api_parsers.FormParser],
        pagination_class=None,
        filterset_class=None,
    )
    def import_file(self, request):
        """Import a CSV or XLSX sheet. Without ``commit`` every row is validated and reported
        (errors by row and column) and nothing is written; with ``commit=true`` all rows are
        written in one transaction, or none if any row fails.

        A file larger than a request reads at once (``ImportLimits.request()``) is handed to a
        job: the answer is 202 with the job (``/api/jobs/<id>/``), whose ``result`` holds the
        check's counts and problems, or the import's counts."""
        if not may_import(request.user):
            raise exceptions.PermissionDenied("Your roles do not allow importing use cases.")
        payload = ImportRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        upload = payload.validated_data["file"]
        try:
            sheet = parse_upload(upload, upload.name, limits=ImportLimits.request())
        except ImportTooLarge as exc:
            if upload.size > MAX_IMPORT_BYTES:
                raise exceptions.ValidationError({"file": [str(exc)]}) from exc
            return self._import_as_job(request, upload, commit=payload.validated_data["commit"])
        except ImportFileError as exc:
            raise exceptions.ValidationError({"file": [str(exc)]}) from exc
        preview = validate_rows(sheet, user=request.user)
        if not preview.is_valid:
            return Response(import_report(preview), status=status.HTTP_400_BAD_REQUEST)
        if not payload.validated_data["commit"]:
            return Response(import_report(preview))
        result = commit_import(preview, user=request.user)
        report = import_report(preview, result)
        return Response(report, status=status.HTTP_200_OK if result.ok else status.HTTP_400_BAD_REQUEST)

    def _import_as_job(self, request, upload, *, commit: bool) -> Response:
        path = store_upload(upload, user=request.user)
        run = jobs.enqueue(
            import_use_cases if commit else check_use_case_import,
            actor=request.user,
            channel=ChannelChoices.API,
            path=str(path),
            filename=PurePath(upload.name or "upload").name,
        )
        data = JobRunSerializer(run, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data.get("url", "")})

    # The descriptor document, as YAML (the default) or JSON (Accept or ?format=json).
    @extend_schema(
        responses={
            (200, "application/yaml"): OpenApiTypes.OBJECT,
            (200, "application/json"): OpenApiTypes.OBJECT,
        }
    )
    @action(detail=True, methods=["get"], renderer_classes=DESCRIPTOR_RENDERERS)
    def descriptor(self, request, key=None):
        """The use case as a catalog-as-code YAML descriptor (``propylon sync_descriptors``)."""
        use_case = self.get_object()
        response = HttpResponse(dump_descriptor(use_case), content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{descriptor_filename(use_case)}"'
        return response


class TeamOwnedViewSet(RestrictedModelViewSet):
    """Assets a team owns: anyone with a role reads them; the owning team maintains them."""

    lookup_field = "slug"
    filterset_fields = {"owning_team__slug": ["exact"]}
    search_fields = ["name", "description", "slug"]
    ordering_fields = ["name", "created_at"]

    kind: str = ""  # an AssetKindChoices value: which asset inventory.services.usecases registers

    def _check_team(self, team) -> None:
        if not may_file_for_team(self.request.user, team):
            raise exceptions.PermissionDenied("Assets belong to a team you are a member of.")

    def perform_create(self, serializer):
        self.check_add_permission()
        self._check_team(serializer.validated_data["owning_team"])
        data = dict(serializer.validated_data)
        serializer.instance = catalog_services.asset_create(actor=self.request.user, kind=self.kind, **data)

    def perform_update(self, serializer):
        if "owning_team" in serializer.validated_data:
            self._check_team(serializer.validated_data["owning_team"])
        data = dict(serializer.validated_data)
        serializer.instance = catalog_services.asset_update(
            actor=self.request.user, asset=serializer.instance, **data
        )


class ComponentViewSet(TeamOwnedViewSet):
    """Shared, reusable parts use cases depend on."""

    kind = AssetKindChoices.COMPONENT
    queryset = Component.objects.select_related("owning_team")
    serializer_class = ComponentSerializer


class DataSourceViewSet(TeamOwnedViewSet):
    """Systems of record data comes from."""

    kind = AssetKindChoices.DATA_SOURCE
    queryset = DataSource.objects.select_related("owning_team")
    serializer_class = DataSourceSerializer


class ModelViewSet(TeamOwnedViewSet):
    """Models, in house or from a provider; their versions are under /api/model-versions/."""

    kind = AssetKindChoices.MODEL
    queryset = Model.objects.select_related("owning_team")
    serializer_class = ModelSerializer


class PromptTemplateViewSet(TeamOwnedViewSet):
    kind = AssetKindChoices.PROMPT
    queryset = PromptTemplate.objects.select_related("owning_team")
    serializer_class = PromptTemplateSerializer


class DatasetViewSet(TeamOwnedViewSet):
    kind = AssetKindChoices.DATASET
    queryset = Dataset.objects.select_related("owning_team").prefetch_related("sources")
    serializer_class = DatasetSerializer


class ChildViewSet(RestrictedModelViewSet):
    """Records that belong to a parent (a model's versions, a use case's releases and KPIs):
    creating one needs the right to change the parent."""

    parent_field: str = ""

    def create(self, request, *args, **kwargs):
        # Refuse people who may not add at all before the parent's key is looked up (403, not
        # the 400 "does not exist" that an invisible parent answers).
        self.check_add_permission()
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        parent = serializer.validated_data[self.parent_field]
        if not can(self.request.user, Action.CHANGE, parent):
            raise exceptions.PermissionDenied(f"You may not change {parent}.")
        self.create_child(serializer)

    def create_child(self, serializer):
        instance = serializer.Meta.model(
            **{k: v for k, v in serializer.validated_data.items() if not isinstance(v, list)}
        )
        instance.full_clean()
        instance.save()
        for name, value in serializer.validated_data.items():
            if isinstance(value, list):
                getattr(instance, name).set(value)
        serializer.instance = instance


class VersionViewSet(ChildViewSet):
    """Versions are created and corrected through inventory.services.usecases (digests normalised, a
    version a frozen release pins stays as it was)."""

    create_service = None

    def create_child(self, serializer):
        data = dict(serializer.validated_data)
        parent = data.pop(self.parent_field)
        serializer.instance = type(self).create_service(
            actor=self.request.user, **{self.parent_field: parent}, **data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if self.parent_field in data and data[self.parent_field] != getattr(
            serializer.instance, self.parent_field
        ):
            raise exceptions.ValidationError({self.parent_field: ["A version cannot move to another asset."]})
        data.pop(self.parent_field, None)
        serializer.instance = catalog_services.version_update(
            actor=self.request.user, item=serializer.instance, **data
        )


class ModelVersionViewSet(VersionViewSet):
    queryset = ModelVersion.objects.select_related("model")
    serializer_class = ModelVersionSerializer
    parent_field = "model"
    create_service = staticmethod(catalog_services.model_version_create)
    filterset_fields = {"model__slug": ["exact"]}


class PromptVersionViewSet(VersionViewSet):
    queryset = PromptVersion.objects.select_related("template")
    serializer_class = PromptVersionSerializer
    parent_field = "template"
    create_service = staticmethod(catalog_services.prompt_version_create)
    filterset_fields = {"template__slug": ["exact"]}


class DatasetVersionViewSet(VersionViewSet):
    queryset = DatasetVersion.objects.select_related("dataset").prefetch_related("derived_from")
    serializer_class = DatasetVersionSerializer
    parent_field = "dataset"
    create_service = staticmethod(catalog_services.dataset_version_create)
    filterset_fields = {"dataset__slug": ["exact"]}


class ReleaseViewSet(ChildViewSet):
    """Releases pin one version of each model, prompt and dataset plus a code ref. Once an
    approval or deployment uses one, it is frozen: changing it answers 403."""

    queryset = Release.objects.select_related("use_case").prefetch_related(
        "model_versions", "prompt_versions", "dataset_versions"
    )
    serializer_class = ReleaseSerializer
    parent_field = "use_case"
    filterset_fields = {"use_case__key": ["exact"]}

    def create_child(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = catalog_services.release_create(actor=self.request.user, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        if "use_case" in data and data.pop("use_case") != serializer.instance.use_case:
            raise exceptions.ValidationError({"use_case": ["A release cannot move to another use case."]})
        serializer.instance = catalog_services.release_update(
            release=serializer.instance, actor=self.request.user, **data
        )


class KpiViewSet(ChildViewSet):
    queryset = Kpi.objects.select_related("use_case")
    serializer_class = KpiSerializer
    parent_field = "use_case"
    filterset_fields = {"use_case__key": ["exact"]}


class EnvironmentViewSet(RestrictedModelViewSet):
    """Where releases run. Administrators configure environments."""

    queryset = Environment.objects.all()
    serializer_class = EnvironmentSerializer
    lookup_field = "slug"
    filterset_fields = ["kind"]
