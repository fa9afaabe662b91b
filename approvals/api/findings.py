"""The findings API: the list with the page's filters (live findings by default), one finding
with its history, and its actions (acknowledge, resolve, accept-risk, comment). Actions call
approvals.services.findings as the pages do; a refused move answers 400 with its message
(portal.api.exceptions), a finding the caller cannot see 404, one they may not act on 403."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from approvals.models import Finding, FindingEvent
from approvals.selectors.findings import FINDING_RELATED, FindingFilterSet, finding_events, with_severity_rank
from approvals.services import findings as services
from portal import auditing
from portal.api.serializers import UserBriefSerializer
from portal.api.views import RestrictedReadOnlyViewSet, permission_action


class FindingEventSerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True, allow_null=True)
    kind_label = serializers.CharField(read_only=True)

    class Meta:
        model = FindingEvent
        fields = ["id", "kind", "kind_label", "actor", "audit_run", "at", "message"]
        read_only_fields = fields


class CheckBriefSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    controls = serializers.ListField(child=serializers.CharField())


class FindingSerializer(serializers.ModelSerializer):
    use_case = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    owner = UserBriefSerializer(read_only=True, allow_null=True)
    acknowledged_by = UserBriefSerializer(read_only=True, allow_null=True)
    risk_accepted_by = UserBriefSerializer(read_only=True, allow_null=True)
    is_live = serializers.BooleanField(read_only=True)
    is_overdue = serializers.SerializerMethodField()
    check = serializers.SerializerMethodField()
    url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "key", "check_id", "check", "subject_key", "use_case", "title", "detail", "link", "severity",
                  "status", "is_live", "is_overdue", "owner", "owned_by_coe", "first_seen_at", "last_seen_at", "due_at",
                  "resolved_at", "acknowledged_at", "acknowledged_by", "risk_accepted_by", "risk_accepted_until",
                  "risk_acceptance_reason", "escalated_at", "url"]  # fmt: skip
        read_only_fields = fields

    def get_is_overdue(self, finding) -> bool:
        return finding.is_live and finding.due_at < self.context["now"]

    @extend_schema_field(CheckBriefSerializer(allow_null=True))
    def get_check(self, finding) -> dict | None:
        check = auditing.check_for(finding.check_id)
        if check is None:
            return None
        return {"id": check.id, "title": check.title, "description": check.description,
                "controls": list(check.controls)}  # fmt: skip


class FindingCommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=services.COMMENT_MAX_LENGTH)


class FindingResolveSerializer(serializers.Serializer):
    comment = serializers.CharField(
        allow_blank=True, max_length=services.COMMENT_MAX_LENGTH, help_text="What was done (required)."
    )


class FindingAcceptRiskSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, max_length=services.COMMENT_MAX_LENGTH)
    until = serializers.DateTimeField(
        help_text="When the acceptance ends (in the future, at most PROPYLON_FINDING_MAX_ACCEPTANCE_DAYS ahead)."
    )


class FindingNoteSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, max_length=services.COMMENT_MAX_LENGTH)


class FindingViewSet(RestrictedReadOnlyViewSet):
    """Audit findings. The list shows live findings (open or acknowledged) unless ``status`` says
    otherwise (``all``, or one status), most severe first (``sort``)."""

    queryset = Finding.objects.select_related(*FINDING_RELATED, "acknowledged_by", "risk_accepted_by")
    serializer_class = FindingSerializer
    filterset_class = FindingFilterSet
    ordering_fields = ["due_at", "last_seen_at", "first_seen_at"]
    search_fields = ["title", "subject_key", "use_case__key"]

    def get_queryset(self):
        return with_severity_rank(super().get_queryset())

    def filter_queryset(self, queryset):
        # The list's filters (and its "live" default) choose what is listed; one finding is
        # found by its id whatever its status.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def _answer(self, finding) -> Response:
        finding = self.get_queryset().get(pk=finding.pk)
        return Response(self.get_serializer(finding).data)

    @extend_schema(request=FindingCommentSerializer, responses={200: FindingSerializer})
    @action(detail=True, methods=["post"])
    @permission_action("custom:acknowledge")
    def acknowledge(self, request, pk=None):
        """The owner, the owning team or the CoE says they are on it (open → acknowledged)."""
        finding = self.get_object()
        payload = FindingCommentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.finding_acknowledge(actor=request.user, finding=finding,
                                     comment=payload.validated_data.get("comment", ""))  # fmt: skip
        return self._answer(finding)

    @extend_schema(request=FindingResolveSerializer, responses={200: FindingSerializer})
    @action(detail=True, methods=["post"])
    @permission_action("custom:resolve")
    def resolve(self, request, pk=None):
        """Resolve by hand with a comment; the next audit reopens it if the condition still holds."""
        finding = self.get_object()
        payload = FindingResolveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.finding_resolve(
            actor=request.user, finding=finding, comment=payload.validated_data["comment"]
        )
        return self._answer(finding)

    @extend_schema(request=FindingAcceptRiskSerializer, responses={200: FindingSerializer})
    @action(detail=True, methods=["post"], url_path="accept-risk")
    @permission_action("custom:accept_risk")
    def accept_risk(self, request, pk=None):
        """A CoE approver (never the owner or the owning team) accepts the risk until a date."""
        finding = self.get_object()
        payload = FindingAcceptRiskSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.finding_accept_risk(actor=request.user, finding=finding, **payload.validated_data)
        return self._answer(finding)

    @extend_schema(request=FindingNoteSerializer, responses={201: FindingEventSerializer})
    @action(detail=True, methods=["post"])
    @permission_action("custom:comment")
    def comment(self, request, pk=None):
        finding = self.get_object()
        payload = FindingNoteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        event = services.finding_comment(
            actor=request.user, finding=finding, body=payload.validated_data["body"]
        )
        return Response(FindingEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: FindingEventSerializer(many=True)})
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def events(self, request, pk=None):
        """The finding's history, oldest first."""
        return Response(FindingEventSerializer(finding_events(self.get_object()), many=True).data)
