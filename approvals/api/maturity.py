"""The maturity assessment's API: the rubric, a use case's latest assessment with its gaps and
trend, reassessing, the versions, and evidence (list, add, withdraw). Same services as the pages
(approvals.services.maturity)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.api.serializers import VisibleUseCaseField
from approvals.catalogs import maturity as catalog
from approvals.choices import AssessmentTriggerChoices, CheckStatusChoices
from approvals.models import MaturityAssessment, MaturityEvidence
from approvals.policies import may_maintain_maturity
from approvals.selectors import maturity as maturity_selectors
from approvals.services import maturity
from approvals.views.maturity import evidence_file_response
from inventory.selectors.usecases import use_case_for
from portal.api.parsers import FormParser, JSONParser, MultiPartParser
from portal.api.serializers import UserBriefSerializer
from portal.api.views import RestrictedReadOnlyViewSet, RestrictedViewSetMixin, permission_action


class CheckResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CheckStatusChoices.pairs())
    points = serializers.CharField(help_text="1.0 verified, 0.5 evidenced, 0 otherwise.")
    detail = serializers.CharField()
    evidence = serializers.ListField(
        child=serializers.IntegerField(), help_text="Evidence that earned the points."
    )


class MaturityAssessmentSerializer(serializers.ModelSerializer):
    use_case = serializers.SlugRelatedField(slug_field="key", read_only=True)
    readiness = serializers.DecimalField(max_digits=5, decimal_places=1, read_only=True)
    level_name = serializers.SerializerMethodField()
    scores = serializers.DictField(
        child=serializers.CharField(), read_only=True, help_text="Dimension key → score."
    )
    results = serializers.DictField(
        child=CheckResultSerializer(), read_only=True, help_text="Check key → result."
    )
    evidence_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    assessed_by = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = MaturityAssessment
        fields = ["id", "use_case", "version", "rubric_version", "readiness", "level", "level_name", "scores",
                  "results", "evidence_ids", "trigger", "assessed_by", "assessed_at"]  # fmt: skip
        read_only_fields = fields

    def get_level_name(self, obj) -> str:
        return catalog.LEVELS[obj.level].name


class MaturityVersionSerializer(serializers.ModelSerializer):
    readiness = serializers.DecimalField(max_digits=5, decimal_places=1, read_only=True)
    scores = serializers.DictField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = MaturityAssessment
        fields = ["version", "readiness", "level", "scores", "trigger", "assessed_at"]
        read_only_fields = fields


class GapSerializer(serializers.Serializer):
    dimension = serializers.CharField()
    dimension_title = serializers.CharField()
    dimension_score = serializers.CharField()
    needed = serializers.CharField(help_text="Points the dimension still needs for the next level.")
    check = serializers.CharField()
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=CheckStatusChoices.pairs())
    points = serializers.CharField()
    gain = serializers.CharField(help_text="Points meeting the check would add.")
    action = serializers.CharField(help_text="What to do.")
    target_level = serializers.IntegerField()
    target_level_name = serializers.CharField()


class LevelSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    name = serializers.CharField()
    threshold = serializers.CharField()
    meaning = serializers.CharField()


class UseCaseMaturitySerializer(serializers.Serializer):
    use_case = serializers.CharField()
    rubric_version = serializers.CharField()
    assessment = MaturityAssessmentSerializer(
        allow_null=True, help_text="The latest version; null if never assessed."
    )
    level = LevelSerializer(allow_null=True)
    next_level = LevelSerializer(allow_null=True)
    gaps = GapSerializer(
        many=True, help_text="What to do to reach the next level, the weakest dimension first."
    )
    versions = MaturityVersionSerializer(many=True, help_text="Every version, oldest first (the trend).")
    may_maintain = serializers.BooleanField(help_text="Whether the caller may add evidence and reassess.")


def _level(level) -> dict | None:
    if level is None:
        return None
    return {
        "number": level.number,
        "name": level.name,
        "threshold": str(level.threshold),
        "meaning": level.meaning,
    }


def _summary(request, use_case) -> dict:
    versions = list(maturity_selectors.maturity_assessments_for(user=request.user, use_case=use_case))
    latest = versions[0] if versions else None
    level = maturity_selectors.assessment_level(latest) if latest else None
    return {
        "use_case": use_case.key,
        "rubric_version": catalog.RUBRIC_VERSION,
        "assessment": latest,
        "level": _level(level),
        "next_level": _level(catalog.next_level(level) if level else catalog.LEVELS[1]),
        "gaps": maturity_selectors.maturity_gaps(latest) if latest else [],
        "versions": list(reversed(versions)),
        "may_maintain": may_maintain_maturity(request.user, use_case),
    }


class UseCaseMaturityView(APIView):
    """A use case's latest maturity assessment: the readiness (the weakest dimension), the
    vector of dimension scores, every check's result, the gap list to the next level and the
    trend of versions. 404 if the use case is not visible."""

    @extend_schema(responses=UseCaseMaturitySerializer, operation_id="use_cases_maturity_retrieve")
    def get(self, request, key: str):
        use_case = use_case_for(user=request.user, key=key)
        return Response(
            UseCaseMaturitySerializer(_summary(request, use_case), context={"request": request}).data
        )


class UseCaseMaturityAssessView(APIView):
    """Reassess the use case now: always saves a new version (recorded as manual). The owning
    team and the CoE may; others get 403, and 404 if they cannot see the use case."""

    @extend_schema(
        request=None, responses={201: MaturityAssessmentSerializer}, operation_id="use_cases_maturity_assess"
    )
    def post(self, request, key: str):
        use_case = use_case_for(user=request.user, key=key)
        if not may_maintain_maturity(request.user, use_case):
            raise exceptions.PermissionDenied("The owning team and the CoE reassess a use case's maturity.")
        assessment = maturity.maturity_assess(
            use_case=use_case, actor=request.user, trigger=AssessmentTriggerChoices.MANUAL
        )
        return Response(
            MaturityAssessmentSerializer(assessment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class MaturityAssessmentViewSet(RestrictedReadOnlyViewSet):
    """Maturity assessments, newest version first; filter with ``use_case__key``. Append-only:
    a recompute that changes anything is a new version."""

    queryset = MaturityAssessment.objects.select_related("use_case", "assessed_by").order_by(
        "use_case__key", "-version"
    )
    serializer_class = MaturityAssessmentSerializer
    filterset_fields = {"use_case__key": ["exact"], "trigger": ["exact"], "level": ["exact", "gte", "lte"]}
    ordering_fields = ["assessed_at", "version", "readiness"]
    search_fields = []


class MaturityEvidenceSerializer(serializers.ModelSerializer):
    use_case = serializers.SlugRelatedField(slug_field="key", read_only=True)
    # Not a URLField: file and note evidence answer "", which is no URI.
    url = serializers.CharField(read_only=True, help_text="The link (link evidence only; empty otherwise).")
    file = serializers.SerializerMethodField(help_text="Where to download the file (file evidence only).")
    added_by = UserBriefSerializer(read_only=True, allow_null=True)
    withdrawn_by = UserBriefSerializer(read_only=True, allow_null=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = MaturityEvidence
        fields = ["id", "use_case", "check_key", "kind", "url", "file", "note", "sha256", "added_by", "added_at",
                  "is_active", "withdrawn_at", "withdrawn_by"]  # fmt: skip
        read_only_fields = fields

    def get_file(self, obj) -> str | None:
        # Media files are not served publicly; the download goes through the permission check.
        if not obj.file:
            return None
        request = self.context.get("request")
        path = f"/api/maturity-evidence/{obj.pk}/file/"
        return request.build_absolute_uri(path) if request else path


class MaturityEvidenceCreateSerializer(serializers.Serializer):
    """Exactly one of ``url``, ``file`` (multipart) or ``note``."""

    use_case = VisibleUseCaseField()
    check_key = serializers.ChoiceField(choices=sorted(catalog.CHECKS), help_text="A check of the rubric.")
    url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    file = serializers.FileField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=maturity.NOTE_MAX_LENGTH)


class MaturityEvidenceViewSet(RestrictedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Evidence for maturity checks; filter with ``use_case__key``, ``check_key`` or ``active``.
    POST adds a link, a file (multipart) or a note; evidence is never edited or deleted —
    ``withdraw`` stops it counting and keeps it for the record."""

    queryset = MaturityEvidence.objects.select_related("use_case", "added_by", "withdrawn_by").order_by(
        "use_case__key", "-added_at", "-pk"
    )
    serializer_class = MaturityEvidenceSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filterset_fields = {"use_case__key": ["exact"], "check_key": ["exact"], "kind": ["exact"]}
    ordering_fields = ["added_at"]
    search_fields = ["note", "url"]

    def get_queryset(self):
        queryset = super().get_queryset()
        active = self.request.query_params.get("active")
        if active in ("true", "false"):
            queryset = queryset.filter(withdrawn_at__isnull=active == "true")
        return queryset

    @extend_schema(request=MaturityEvidenceCreateSerializer, responses={201: MaturityEvidenceSerializer})
    def create(self, request, *args, **kwargs):
        self.check_add_permission()  # before the body is read: no role, no answer about use cases
        payload = MaturityEvidenceCreateSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if not may_maintain_maturity(request.user, data["use_case"]):
            raise exceptions.PermissionDenied(
                "The owning team and the CoE maintain a use case's maturity evidence."
            )
        evidence = maturity.evidence_add(
            use_case=data["use_case"],
            check_key=data["check_key"],
            actor=request.user,
            url=data.get("url") or None,
            file=data.get("file") or None,
            note=data.get("note") or None,
        )
        return Response(
            MaturityEvidenceSerializer(evidence, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=None,
        responses={200: MaturityEvidenceSerializer, 400: OpenApiResponse(description="Already withdrawn.")},
    )
    @action(detail=True, methods=["post"])
    @permission_action("custom:withdraw")
    def withdraw(self, request, pk=None):
        evidence = self.get_object()
        evidence = maturity.evidence_withdraw(evidence=evidence, actor=request.user)
        return Response(MaturityEvidenceSerializer(evidence, context=self.get_serializer_context()).data)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path="file")
    def download(self, request, pk=None):
        """The evidence file, as a download."""

        return evidence_file_response(self.get_object())


class RubricCheckSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    guidance = serializers.CharField()
    automatic = serializers.BooleanField()
    max_points = serializers.CharField()


class RubricDimensionSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    checks = RubricCheckSerializer(many=True)


class MaturityRubricSerializer(serializers.Serializer):
    version = serializers.CharField()
    levels = LevelSerializer(many=True)
    dimensions = RubricDimensionSerializer(many=True)


class MaturityRubricView(APIView):
    """The maturity rubric: the levels, the dimensions and their checks (which are verified
    automatically, and what to do to meet each)."""

    @extend_schema(responses=MaturityRubricSerializer)
    def get(self, request):
        return Response(MaturityRubricSerializer(catalog.rubric_as_data()).data)
