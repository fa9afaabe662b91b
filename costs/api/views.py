from rest_framework import serializers

from costs.models import CostSource
from portal.api.views import RestrictedModelViewSet


class CostSourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostSource
        fields = ["id", "name", "kind", "location", "enabled", "description", "created_at"]
        read_only_fields = ["created_at"]


class CostSourceViewSet(RestrictedModelViewSet):
    """Billing feeds (administrators configure; executives, the CoE and auditors read)."""

    queryset = CostSource.objects.all()
    serializer_class = CostSourceSerializer
    filterset_fields = ["kind", "enabled"]
    search_fields = ["name", "location"]
    ordering_fields = ["name", "created_at"]

    def perform_create(self, serializer):
        self.check_add_permission()
        instance = CostSource(**serializer.validated_data)
        instance.full_clean()
        instance.save()
        serializer.instance = instance
