from inventory.api.serializers import BusinessUnitSerializer, TeamLeadSerializer, TeamSerializer
from inventory.models import BusinessUnit, Team
from inventory.policies import may_configure_teams
from inventory.services import organisation as organisation_services
from portal.api.views import RestrictedModelViewSet


class BusinessUnitViewSet(RestrictedModelViewSet):
    """Business units: the parts of the company that own teams. Administrators change them."""

    queryset = BusinessUnit.objects.select_related("head")
    serializer_class = BusinessUnitSerializer
    lookup_field = "slug"
    filterset_fields = ["slug"]
    search_fields = ["name", "description"]
    ordering_fields = ["name"]

    def perform_create(self, serializer):
        self.check_add_permission()
        serializer.instance = organisation_services.business_unit_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = organisation_services.business_unit_update(
            unit=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        organisation_services.business_unit_delete(unit=instance)


class TeamViewSet(RestrictedModelViewSet):
    """Teams, their business unit, lead and members. Administrators manage teams; a team lead
    changes the description, lead and members of their own team."""

    queryset = Team.objects.select_related("business_unit", "lead").prefetch_related("members")
    lookup_field = "slug"
    filterset_fields = {"business_unit__slug": ["exact"], "slug": ["exact"]}
    search_fields = ["name", "description"]
    ordering_fields = ["name"]

    def get_serializer_class(self):
        if self.request.method in ("PUT", "PATCH") and not may_configure_teams(self.request.user):
            return TeamLeadSerializer
        return TeamSerializer

    def perform_create(self, serializer):
        self.check_add_permission()
        data = dict(serializer.validated_data)
        serializer.instance = organisation_services.team_create(**data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        members = data.pop("members", None)
        serializer.instance = organisation_services.team_update(
            team=serializer.instance, members=members, **data
        )

    def perform_destroy(self, instance):
        organisation_services.team_delete(team=instance)
