from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.api.serializers import (
    RiskAssessmentRecordSerializer,
    RiskAssessmentSerializer,
    RiskCatalogSerializer,
    RiskRegisterEntrySerializer,
)
from approvals.catalogs import risk as risk_catalog
from approvals.models import RiskAssessment, RiskRegisterEntry
from approvals.policies import may_assess_risk
from approvals.services import risk as services
from portal.api.exceptions import api_error
from portal.api.views import RestrictedModelViewSet, RestrictedViewSetMixin

# Lifecycle stages and transitions: approvals/api/gates.py (writable for the CoE lead).


#
# Risk classification
#


class RiskAssessmentViewSet(RestrictedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """EU AI Act risk assessments, newest version first; filter with ``use_case__key``.
    POST records a new version from the answers (``/api/risk-catalog/``) and sets the use case's
    tier. Assessments are never changed or deleted."""

    queryset = RiskAssessment.objects.select_related("use_case", "assessed_by").order_by(
        "use_case__key", "-version"
    )
    serializer_class = RiskAssessmentSerializer
    filterset_fields = {
        "use_case__key": ["exact"],
        "tier": ["exact"],
        "role": ["exact"],
        "is_gpai": ["exact"],
    }
    ordering_fields = ["assessed_at", "version"]
    search_fields = []

    @extend_schema(request=RiskAssessmentRecordSerializer, responses={201: RiskAssessmentSerializer})
    def create(self, request, *args, **kwargs):
        self.check_add_permission()
        payload = RiskAssessmentRecordSerializer(data=request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        use_case = payload.validated_data["use_case"]
        if not may_assess_risk(request.user, use_case):
            raise exceptions.PermissionDenied("The owning team and the CoE assess a use case's risk.")
        try:
            assessment = services.risk_assessment_record(
                use_case=use_case, answers=payload.validated_data["answers"], actor=request.user
            )
        except DjangoValidationError as exc:
            raise api_error(exc, field="answers") from exc
        return Response(
            RiskAssessmentSerializer(assessment, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )


class RiskRegisterEntryViewSet(RestrictedModelViewSet):
    """The risk register: risks of use cases with likelihood x severity before and after
    mitigation, the worst residual risk first; filter with ``use_case__key``. Writes go through
    approvals.services.risk and answer 400 with the rule that was broken."""

    queryset = (
        RiskRegisterEntry.objects.select_related("use_case", "owner")
        .annotate(residual=F("residual_likelihood") * F("residual_severity"))
        .order_by("-residual", "use_case__key", "title", "pk")
    )
    serializer_class = RiskRegisterEntrySerializer
    filterset_fields = {"use_case__key": ["exact"], "status": ["exact"], "category": ["exact"]}
    search_fields = ["title", "description", "mitigation"]
    ordering_fields = ["review_date", "created_at", "updated_at"]

    def create(self, request, *args, **kwargs):
        self.check_add_permission()  # before the body is read: no role, no answer about use cases
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        if not may_assess_risk(self.request.user, data["use_case"]):
            raise exceptions.PermissionDenied(
                "The owning team and the CoE maintain a use case's risk register."
            )
        serializer.instance = services.register_entry_create(actor=self.request.user, **data)

    def perform_update(self, serializer):
        entry = serializer.instance
        changes = {name: value for name, value in serializer.validated_data.items() if name != "use_case"}
        serializer.instance = services.register_entry_update(entry=entry, actor=self.request.user, **changes)

    def perform_destroy(self, instance):
        services.register_entry_delete(entry=instance, actor=self.request.user)


class RiskCatalogView(APIView):
    """The risk classification questionnaire: sections, questions (id, text, help, legal
    reference, kind, options). POST answers keyed by question id to ``/api/risk-assessments/``."""

    @extend_schema(responses=RiskCatalogSerializer)
    def get(self, request):
        return Response(RiskCatalogSerializer(risk_catalog.catalog_as_data()).data)
