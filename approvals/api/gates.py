"""The lifecycle and gates API: stages and transitions, gate policies, approval requests with
their actions (preflight, submit, decide, comment, withdraw, resubmit, revoke, recertify) and
events, and the caller's notifications. Writes call approvals.services.lifecycle and approvals.services.gates, as
the pages do; a rule broken there answers 400 with its message (portal.api.exceptions)."""

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from approvals.api.serializers import VisibleUseCaseField
from approvals.choices import ApprovalStatusChoices, DecisionChoices, StageKindChoices
from approvals.models import (
    APPROVER_ROLES,
    ApprovalComment,
    ApprovalDecision,
    ApprovalEvent,
    ApprovalRequest,
    GatePolicy,
    LifecycleStage,
    LifecycleTransition,
)
from approvals.policies import may_request_gate
from approvals.selectors import gates as gate_selectors
from approvals.selectors.gates import waiting_on
from approvals.selectors.preflight import gate_preflight
from approvals.services import gate_policies, gates, lifecycle
from inventory.choices import RiskTierChoices
from inventory.models import Release
from portal.api.notifications import NotificationFilterSet, NotificationResendMixin
from portal.api.serializers import UserBriefSerializer
from portal.api.views import (
    RestrictedModelViewSet,
    RestrictedReadOnlyViewSet,
    RestrictedViewSetMixin,
    permission_action,
)
from portal.models import Notification
from portal.templatetags.portal_tags import BADGE_COLOURS

#
# Lifecycle
#


class LifecycleStageSerializer(serializers.ModelSerializer):
    key = serializers.SlugField(max_length=40, help_text="Stable: never changes once created.")
    kind = serializers.ChoiceField(choices=StageKindChoices.pairs())
    colour = serializers.ChoiceField(choices=sorted(BADGE_COLOURS), default="grey")

    class Meta:
        model = LifecycleStage
        fields = ["id", "key", "label", "kind", "order", "colour", "description"]


class LifecycleStageViewSet(RestrictedModelViewSet):
    """The lifecycle's stages, in funnel order. The CoE lead adds, changes and deletes them; a key
    never changes, and a stage in use (use cases at it, gate requests through it, the intake
    stage) is not deleted."""

    queryset = LifecycleStage.objects.all()
    serializer_class = LifecycleStageSerializer
    lookup_field = "key"
    filterset_fields = ["kind"]
    ordering_fields = ["order"]
    search_fields = ["key", "label"]

    def perform_create(self, serializer):
        self.check_add_permission()
        serializer.instance = lifecycle.stage_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = lifecycle.stage_update(
            stage=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        lifecycle.stage_delete(stage=instance, actor=self.request.user)


class LifecycleTransitionSerializer(serializers.ModelSerializer):
    from_stage = serializers.SlugRelatedField(slug_field="key", queryset=LifecycleStage.objects.all())
    to_stage = serializers.SlugRelatedField(slug_field="key", queryset=LifecycleStage.objects.all())

    class Meta:
        model = LifecycleTransition
        fields = ["id", "from_stage", "to_stage", "requires_gate"]
        # The service names the duplicate in its own words (and on its field).
        validators = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            # A transition keeps its stages: delete it and add another instead.
            self.fields["from_stage"].read_only = True
            self.fields["to_stage"].read_only = True


class LifecycleTransitionViewSet(RestrictedModelViewSet):
    """The moves allowed between stages; gated moves need an approved request. The CoE lead
    maintains them; a transition a request used is kept for the record."""

    queryset = LifecycleTransition.objects.select_related("from_stage", "to_stage")
    serializer_class = LifecycleTransitionSerializer
    filterset_fields = {"from_stage__key": ["exact"], "to_stage__key": ["exact"], "requires_gate": ["exact"]}
    search_fields = []

    def perform_create(self, serializer):
        self.check_add_permission()
        serializer.instance = lifecycle.transition_create(
            actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = lifecycle.transition_update(
            transition=serializer.instance,
            actor=self.request.user,
            requires_gate=serializer.validated_data.get("requires_gate", serializer.instance.requires_gate),
        )

    def perform_destroy(self, instance):
        lifecycle.transition_delete(transition=instance, actor=self.request.user)


#
# Gate policies
#


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 10},
        "example": {"coe-reviewer": 2, "security-reviewer": 1},
    }
)
class RequirementsField(serializers.DictField):
    """Approver role → how many distinct people of it must approve (0 removes the role)."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.IntegerField(min_value=0, max_value=10), **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(APPROVER_ROLES))
        if unknown:
            raise serializers.ValidationError(
                f"Not an approver role: {', '.join(unknown)}; use {', '.join(APPROVER_ROLES)}."
            )
        return value


class GatePolicySerializer(serializers.ModelSerializer):
    transition = serializers.PrimaryKeyRelatedField(
        queryset=LifecycleTransition.objects.filter(requires_gate=True)
    )
    transition_label = serializers.CharField(source="transition.__str__", read_only=True)
    risk_tier = serializers.ChoiceField(
        choices=[(GatePolicy.ANY_TIER, "Any tier"), *RiskTierChoices.pairs()],
        required=False,
        allow_blank=True,
    )
    mandatory_checks = serializers.ListField(child=serializers.CharField(), required=False)
    mandatory_evidence = serializers.ListField(child=serializers.CharField(), required=False)
    requirements = RequirementsField(source="quorum", required=False)

    class Meta:
        model = GatePolicy
        fields = ["id", "transition", "transition_label", "risk_tier", "min_readiness", "mandatory_checks",
                  "mandatory_evidence", "requires_risk_assessment", "allows_conditions", "blocked", "validity_days",
                  "review_sla_days", "description", "requirements", "updated_at"]  # fmt: skip
        read_only_fields = ["updated_at"]
        validators = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["transition"].read_only = True
            self.fields["risk_tier"].read_only = True

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["requirements"] = instance.quorum()
        return data


class GatePolicyViewSet(RestrictedModelViewSet):
    """Gate policies per gated transition and risk tier (empty tier: any tier without its own).
    Everyone reads them; the CoE lead maintains them. ``requirements`` is the quorum."""

    queryset = GatePolicy.objects.select_related(
        "transition__from_stage", "transition__to_stage"
    ).prefetch_related("approver_requirements")
    serializer_class = GatePolicySerializer
    filterset_fields = {
        "transition__from_stage__key": ["exact"],
        "transition__to_stage__key": ["exact"],
        "risk_tier": ["exact"],
        "blocked": ["exact"],
    }
    search_fields = ["description"]

    def perform_create(self, serializer):
        self.check_add_permission()
        data = dict(serializer.validated_data)
        serializer.instance = gate_policies.gate_policy_save(
            actor=self.request.user,
            transition=data.pop("transition"),
            risk_tier=data.pop("risk_tier", GatePolicy.ANY_TIER),
            requirements=data.pop("quorum", {}),
            **data,
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = gate_policies.gate_policy_save(
            actor=self.request.user, policy=serializer.instance, requirements=data.pop("quorum", None), **data
        )

    def perform_destroy(self, instance):
        gate_policies.gate_policy_delete(policy=instance, actor=self.request.user)


#
# Approval requests
#


class ApprovalDecisionSerializer(serializers.ModelSerializer):
    decided_by = UserBriefSerializer(read_only=True)

    class Meta:
        model = ApprovalDecision
        fields = ["id", "round", "decided_by", "roles", "decision", "comment", "conditions", "decided_at"]
        read_only_fields = fields


class ApprovalCommentSerializer(serializers.ModelSerializer):
    author = UserBriefSerializer(read_only=True)

    class Meta:
        model = ApprovalComment
        fields = ["id", "parent", "author", "body", "created_at"]
        read_only_fields = fields


class ApprovalEventSerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True, allow_null=True)
    request = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = ApprovalEvent
        fields = ["id", "request", "kind", "actor", "at", "message", "data"]
        read_only_fields = fields


class QuorumRowSerializer(serializers.Serializer):
    role = serializers.CharField()
    label = serializers.CharField()
    required = serializers.IntegerField()
    approved = serializers.IntegerField()


class ReleaseBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Release
        fields = ["id", "version", "code_ref", "frozen_at"]
        read_only_fields = fields


class ApprovalRequestSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    use_case = serializers.SlugRelatedField(slug_field="key", read_only=True)
    release = ReleaseBriefSerializer(read_only=True)
    from_stage = serializers.SlugRelatedField(slug_field="key", read_only=True)
    to_stage = serializers.SlugRelatedField(slug_field="key", read_only=True)
    requested_by = UserBriefSerializer(read_only=True, allow_null=True)
    revoked_by = UserBriefSerializer(read_only=True, allow_null=True)
    is_overdue = serializers.BooleanField(read_only=True)
    is_valid_approval = serializers.BooleanField(read_only=True)
    progress = serializers.SerializerMethodField()
    decisions = ApprovalDecisionSerializer(many=True, read_only=True)
    comments = ApprovalCommentSerializer(many=True, read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = ["id", "reference", "use_case", "release", "from_stage", "to_stage", "policy", "status", "round",
                  "summary", "quorum", "progress", "conditions", "requested_by", "recertifies", "submitted_at",
                  "due_at", "is_overdue", "decided_at", "expires_at", "is_valid_approval", "revoked_at",
                  "revoked_by", "revoke_reason", "snapshot", "decisions", "comments"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(QuorumRowSerializer(many=True))
    def get_progress(self, request) -> list:
        return gate_selectors.quorum_progress(request)


class GateAskSerializer(serializers.Serializer):
    """Which use case, which release, which stage: for the preflight and for submitting."""

    use_case = VisibleUseCaseField()
    release = serializers.IntegerField(help_text="The release's id; it must belong to the use case.")
    to_stage = serializers.SlugField(help_text="The target stage's key, e.g. pilot or production.")
    summary = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    def validate(self, data):
        release = Release.objects.filter(pk=data["release"], use_case=data["use_case"]).first()
        if release is None:
            raise serializers.ValidationError(
                {"release": f"{data['use_case'].key} has no release {data['release']}."}
            )
        stage = LifecycleStage.objects.filter(key=data["to_stage"]).first()
        if stage is None:
            raise serializers.ValidationError({"to_stage": f"There is no stage “{data['to_stage']}”."})
        return {**data, "release": release, "to_stage": stage}


class ProblemSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
    url = serializers.CharField(help_text="The page where the problem is fixed.")


class PreflightSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    use_case = serializers.CharField()
    release = serializers.CharField(allow_null=True)
    from_stage = serializers.CharField(allow_null=True)
    to_stage = serializers.CharField(allow_null=True)
    risk_tier = serializers.CharField()
    policy = serializers.IntegerField(allow_null=True)
    min_readiness = serializers.CharField(allow_null=True)
    readiness = serializers.CharField(allow_null=True)
    quorum = serializers.DictField(child=serializers.IntegerField())
    problems = ProblemSerializer(many=True)


class DecideSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=DecisionChoices.pairs())
    comment = serializers.CharField(required=False, allow_blank=True)
    conditions = serializers.CharField(required=False, allow_blank=True)


class CommentSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)
    parent = serializers.IntegerField(required=False, allow_null=True, help_text="The comment replied to.")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Why the approval stops covering its release.")


class ResubmitSerializer(serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    release = serializers.IntegerField(
        required=False, allow_null=True, help_text="A new release of the use case."
    )


class RecertifySerializer(serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class ApprovalRequestFilterSet(django_filters.FilterSet):
    use_case = django_filters.CharFilter(field_name="use_case__key", label="Use case key")
    status = django_filters.MultipleChoiceFilter(choices=ApprovalStatusChoices.pairs())
    to_stage = django_filters.CharFilter(field_name="to_stage__key")
    tier = django_filters.ChoiceFilter(field_name="use_case__risk_tier", choices=RiskTierChoices.pairs())
    overdue = django_filters.BooleanFilter(method="filter_overdue", label="Pending past the review deadline")
    waiting_on_me = django_filters.BooleanFilter(
        method="filter_waiting", label="Pending and needing my decision"
    )

    class Meta:
        model = ApprovalRequest
        fields = ["use_case", "status", "to_stage", "tier", "release"]

    def filter_overdue(self, queryset, name, value):
        now = timezone.now()
        return queryset.overdue(now) if value else queryset.not_overdue(now)

    def filter_waiting(self, queryset, name, value):
        user = self.request.user
        pending = queryset.filter(status=ApprovalStatusChoices.PENDING).prefetch_related("decisions")
        mine = [request.pk for request in waiting_on(user, pending)]
        return queryset.filter(pk__in=mine) if value else queryset.exclude(pk__in=mine)


class ApprovalRequestViewSet(RestrictedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Gate requests: one use case, one release, one target stage. POST submits (after the same
    checks as ``preflight``); decisions, comments and the rest are actions. Nothing is edited or
    deleted: the history is the record."""

    queryset = ApprovalRequest.objects.select_related(
        "use_case", "use_case__owning_team", "release", "from_stage", "to_stage", "requested_by", "revoked_by",
        "policy",
    ).prefetch_related("decisions__decided_by", "comments__author")  # fmt: skip
    serializer_class = ApprovalRequestSerializer
    filterset_class = ApprovalRequestFilterSet
    ordering_fields = ["submitted_at", "due_at", "decided_at", "expires_at"]
    search_fields = ["use_case__key", "use_case__name", "summary"]

    def _ask(self) -> dict:
        payload = GateAskSerializer(data=self.request.data, context=self.get_serializer_context())
        payload.is_valid(raise_exception=True)
        return payload.validated_data

    def _answer(self, request_obj, code=status.HTTP_200_OK) -> Response:
        request_obj = self.get_queryset().get(pk=request_obj.pk)
        return Response(self.get_serializer(request_obj).data, status=code)

    @extend_schema(request=GateAskSerializer, responses={201: ApprovalRequestSerializer})
    def create(self, request, *args, **kwargs):
        self.check_add_permission()
        data = self._ask()
        if not may_request_gate(request.user, data["use_case"]):
            raise exceptions.PermissionDenied("The owning team asks for its use case's gates.")
        submitted = gates.approval_request_submit(
            use_case=data["use_case"], release=data["release"], to_stage=data["to_stage"], actor=request.user,
            summary=data.get("summary", ""),
        )  # fmt: skip
        return self._answer(submitted, status.HTTP_201_CREATED)

    @extend_schema(request=GateAskSerializer, responses={200: PreflightSerializer})
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def preflight(self, request):
        """What stops this request from being submitted: every problem, by field. ``ok`` is true
        when nothing does. Like the page, it answers only people who may ask for the gate:
        permission first, then validation (one refusal whatever the payload)."""
        self.check_add_permission()
        data = self._ask()
        if not may_request_gate(request.user, data["use_case"]):
            raise exceptions.PermissionDenied("The owning team asks for its use case's gates.")
        check = gate_preflight(use_case=data["use_case"], release=data["release"], to_stage=data["to_stage"])
        return Response(PreflightSerializer(check.as_data()).data)

    @extend_schema(request=DecideSerializer, responses={200: ApprovalRequestSerializer})
    @action(detail=True, methods=["post"])
    @permission_action("custom:decide")
    def decide(self, request, pk=None):
        """Approve, approve with conditions, request changes or reject. Refused (400, with the
        reason) for the requester, the owners and the owning team, for people without a
        required role, and for a second decision in the same round."""
        gate_request = self.get_object()
        payload = DecideSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        gates.approval_request_decide(request=gate_request, actor=request.user, **payload.validated_data)
        return self._answer(gate_request)

    @extend_schema(request=CommentSerializer, responses={201: ApprovalCommentSerializer})
    @action(detail=True, methods=["post"])
    @permission_action("custom:comment")
    def comment(self, request, pk=None):
        gate_request = self.get_object()
        payload = CommentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        parent = None
        if payload.validated_data.get("parent"):
            parent = ApprovalComment.objects.filter(
                request=gate_request, pk=payload.validated_data["parent"]
            ).first()
            if parent is None:
                raise exceptions.ValidationError({"parent": "No such comment on this request."})
        comment = gates.approval_request_comment(
            request=gate_request, actor=request.user, body=payload.validated_data["body"], parent=parent
        )
        return Response(ApprovalCommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses={200: ApprovalRequestSerializer})
    @action(detail=True, methods=["post"])
    @permission_action("custom:withdraw")
    def withdraw(self, request, pk=None):
        gate_request = self.get_object()
        payload = ReasonSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        gates.approval_request_withdraw(
            request=gate_request, actor=request.user, reason=payload.validated_data.get("reason", "")
        )
        return self._answer(gate_request)

    @extend_schema(request=ResubmitSerializer, responses={200: ApprovalRequestSerializer})
    @action(detail=True, methods=["post"])
    @permission_action("custom:resubmit")
    def resubmit(self, request, pk=None):
        """After changes were requested: check again and start a new round, possibly with a new release."""
        gate_request = self.get_object()
        payload = ResubmitSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        release = None
        if payload.validated_data.get("release"):
            release = gate_request.use_case.releases.filter(pk=payload.validated_data["release"]).first()
            if release is None:
                raise exceptions.ValidationError(
                    {"release": f"{gate_request.use_case.key} has no such release."}
                )
        gates.approval_request_resubmit(
            request=gate_request, actor=request.user, summary=payload.validated_data.get("summary", ""),
            release=release,
        )  # fmt: skip
        return self._answer(gate_request)

    @extend_schema(request=RevokeSerializer, responses={200: ApprovalRequestSerializer})
    @action(detail=True, methods=["post"])
    @permission_action("custom:revoke")
    def revoke(self, request, pk=None):
        """The CoE lead revokes an approval; a reason is required."""
        gate_request = self.get_object()
        payload = RevokeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        gates.approval_request_revoke(
            request=gate_request, actor=request.user, reason=payload.validated_data["reason"]
        )
        return self._answer(gate_request)

    @extend_schema(request=RecertifySerializer, responses={201: ApprovalRequestSerializer})
    @action(detail=True, methods=["post"])
    @permission_action("custom:recertify")
    def recertify(self, request, pk=None):
        """Renew an approved or expired request: a new request for the same release and stage,
        decided by today's policy."""
        gate_request = self.get_object()
        payload = RecertifySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        renewal = gates.approval_request_recertify(
            request=gate_request, actor=request.user, summary=payload.validated_data.get("summary", "")
        )
        return self._answer(renewal, status.HTTP_201_CREATED)

    @extend_schema(responses={200: ApprovalEventSerializer(many=True)})
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def events(self, request, pk=None):
        """The request's typed history, oldest first."""
        gate_request = self.get_object()
        events = gate_request.events.select_related("actor").order_by("at", "pk")
        return Response(ApprovalEventSerializer(events, many=True).data)


class ApprovalEventViewSet(RestrictedReadOnlyViewSet):
    """Every gate request's typed events (submitted, decided, approved, revoked…), newest first."""

    queryset = ApprovalEvent.objects.select_related("actor", "request").order_by("-at", "-pk")
    serializer_class = ApprovalEventSerializer
    filterset_fields = {"request": ["exact"], "kind": ["exact"], "request__use_case__key": ["exact"]}
    ordering_fields = ["at"]
    search_fields = ["message"]


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "channel", "subject", "body", "link", "created_at", "sent_at", "attempts", "error"]
        read_only_fields = fields


class NotificationViewSet(NotificationResendMixin, RestrictedReadOnlyViewSet):
    """Notifications sent to you (admins: everyone's, to diagnose delivery, and resend failed ones)."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet
    ordering_fields = ["created_at"]
    search_fields = ["subject"]


__all__ = [
    "ApprovalEventViewSet",
    "ApprovalRequestViewSet",
    "GatePolicyViewSet",
    "LifecycleStageViewSet",
    "LifecycleTransitionViewSet",
    "NotificationViewSet",
]
