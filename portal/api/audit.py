import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.api.views import RestrictedReadOnlyViewSet
from portal.audit import verify_chain
from portal.choices import ActorKindChoices, AuditActionChoices, ChannelChoices
from portal.models import AuditEntry
from portal.policies import may_read_audit_log


class AuditEntrySerializer(serializers.ModelSerializer):
    object_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "time",
            "action",
            "actor_kind",
            "actor",
            "actor_label",
            "token",
            "job_run",
            "channel",
            "request_id",
            "content_type",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "message",
            "extra",
            "prev_hash",
            "entry_hash",
        ]
        read_only_fields = fields

    def get_object_type(self, entry) -> str | None:
        return f"{entry.content_type.app_label}.{entry.content_type.model}" if entry.content_type else None


class AuditEntryFilterSet(django_filters.FilterSet):
    action = django_filters.MultipleChoiceFilter(choices=AuditActionChoices)
    channel = django_filters.MultipleChoiceFilter(choices=ChannelChoices)
    actor_kind = django_filters.MultipleChoiceFilter(choices=ActorKindChoices)
    object_type = django_filters.CharFilter(
        method="filter_object_type", help_text="app_label.model, e.g. inventory.team"
    )
    since = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = ["action", "channel", "actor_kind", "actor", "token", "request_id", "object_id"]

    def filter_object_type(self, queryset, name, value):
        app_label, _, model = value.lower().partition(".")
        return queryset.filter(content_type__app_label=app_label, content_type__model=model)


VerificationSerializer = inline_serializer(
    "AuditChainVerification",
    fields={
        "status": serializers.ChoiceField(choices=["intact", "broken"]),
        "checked": serializers.IntegerField(),
        "head_hash": serializers.CharField(),
        "broken_entry_id": serializers.IntegerField(allow_null=True),
        "reason": serializers.CharField(),
        "checkpoint": inline_serializer(
            "AuditCheckpoint",
            fields={
                "version": serializers.IntegerField(),
                "entry_id": serializers.IntegerField(),
                "entry_hash": serializers.CharField(),
                "count": serializers.IntegerField(),
                "head_time": serializers.DateTimeField(),
                "created_at": serializers.DateTimeField(),
                "signature": serializers.CharField(help_text="HMAC-SHA256 over the other fields."),
            },
            allow_null=True,
            help_text="The latest signed checkpoint the chain was compared with; null before the first.",
        ),
        "deleted_tail_entries": serializers.IntegerField(
            help_text="Entries the checkpoint counted that are no longer in the trail."
        ),
    },
)


class AuditEntryViewSet(RestrictedReadOnlyViewSet):
    """The audit trail (auditors and administrators). Append-only: there is nothing to write."""

    queryset = AuditEntry.objects.select_related("content_type")
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    search_fields = ["object_repr", "message", "actor_label"]
    ordering_fields = ["id", "time"]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not may_read_audit_log(request.user):
            self.permission_denied(request, message="The audit trail is for auditors and administrators.")

    @extend_schema(responses=VerificationSerializer)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def verify(self, request):
        """Recompute the hash chain and compare it with the latest signed checkpoint: "intact", or
        the first entry that does not verify, or the entries deleted from the end, and why."""
        return Response(verify_chain().as_dict())
