from django.contrib.auth import get_user_model
from rest_framework import serializers

from portal.api.views import RestrictedReadOnlyViewSet
from portal.roles import roles_of


class PersonSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    teams = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    roles = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display_name", "email", "title", "is_active", "teams", "roles"]

    def get_roles(self, person) -> list[str]:
        return sorted(roles_of(person))


class PersonViewSet(RestrictedReadOnlyViewSet):
    """People: owners must be findable. Accounts are managed by administrators (and SSO)."""

    queryset = get_user_model().objects.prefetch_related("teams", "groups")
    serializer_class = PersonSerializer
    lookup_field = "username"
    lookup_value_regex = r"[\w.@+-]+"
    filterset_fields = ["is_active"]
    search_fields = ["username", "first_name", "last_name", "email", "title"]
    ordering_fields = ["username", "last_name"]
