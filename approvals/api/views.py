from rest_framework import serializers

from approvals.models import LifecycleStage, LifecycleTransition
from portal.api.views import RestrictedReadOnlyViewSet


class LifecycleStageSerializer(serializers.ModelSerializer):
    class Meta:
        model = LifecycleStage
        fields = ["id", "key", "label", "kind", "order", "colour", "description"]


class LifecycleTransitionSerializer(serializers.ModelSerializer):
    from_stage = serializers.SlugRelatedField(slug_field="key", read_only=True)
    to_stage = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = LifecycleTransition
        fields = ["id", "from_stage", "to_stage", "requires_gate"]


class LifecycleStageViewSet(RestrictedReadOnlyViewSet):
    """The lifecycle's stages, in funnel order."""

    queryset = LifecycleStage.objects.all()
    serializer_class = LifecycleStageSerializer
    lookup_field = "key"
    filterset_fields = ["kind"]
    ordering_fields = ["order"]


class LifecycleTransitionViewSet(RestrictedReadOnlyViewSet):
    """The moves allowed between stages; gated moves need an approved request."""

    queryset = LifecycleTransition.objects.select_related("from_stage", "to_stage")
    serializer_class = LifecycleTransitionSerializer
    filterset_fields = {"from_stage__key": ["exact"], "to_stage__key": ["exact"], "requires_gate": ["exact"]}
