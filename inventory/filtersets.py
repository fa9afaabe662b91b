"""One filter set per list, shared by the pages and the API (the URL is the state)."""

import django_filters
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from inventory.choices import AIKindChoices, DataSensitivityChoices, RiskTierChoices, VisibilityChoices
from inventory.models import BusinessUnit, Team, UseCase, lifecycle_stage_model


@extend_schema_field(OpenApiTypes.STR)
class KeyedMultipleChoiceFilter(django_filters.ModelMultipleChoiceFilter):
    """Several objects by their key or slug (?team=a&team=b): a string each in the schema."""


SORTS = {
    "key": ("key",),
    "-key": ("-key",),
    "name": ("name", "key"),
    "-name": ("-name", "key"),
    "stage": ("lifecycle_stage__order", "key"),
    "-stage": ("-lifecycle_stage__order", "key"),
    "tier": ("risk_tier", "key"),
    "team": ("owning_team__name", "key"),
    "updated": ("-updated_at", "key"),
    "-updated": ("updated_at", "key"),
}


class UseCaseFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    stage = KeyedMultipleChoiceFilter(
        field_name="lifecycle_stage__key",
        to_field_name="key",
        queryset=lifecycle_stage_model().objects.all(),
        label="Stage",
    )
    draft = django_filters.BooleanFilter(
        field_name="lifecycle_stage__key", lookup_expr="isnull", label="Drafts only"
    )
    tier = django_filters.MultipleChoiceFilter(
        field_name="risk_tier", choices=RiskTierChoices, label="Risk tier"
    )
    team = KeyedMultipleChoiceFilter(
        field_name="owning_team__slug", to_field_name="slug", queryset=Team.objects.all(), label="Team"
    )
    bu = KeyedMultipleChoiceFilter(
        field_name="business_unit__slug",
        to_field_name="slug",
        queryset=BusinessUnit.objects.all(),
        label="Business unit",
    )
    owner = django_filters.CharFilter(method="owned_by", label="Owner (username)")
    ai_kind = django_filters.MultipleChoiceFilter(choices=AIKindChoices, label="AI kind")
    sensitivity = django_filters.MultipleChoiceFilter(
        field_name="data_sensitivity", choices=DataSensitivityChoices, label="Data sensitivity"
    )
    visibility = django_filters.ChoiceFilter(choices=VisibilityChoices, label="Visibility")
    customer_facing = django_filters.BooleanFilter(label="Customer-facing")
    tag = django_filters.CharFilter(method="tagged", label="Tag")
    orphaned = django_filters.BooleanFilter(method="by_ownership_health", label="Orphaned")
    sort = django_filters.ChoiceFilter(
        method="sort_by", choices=[(key, key) for key in SORTS], label="Sort", empty_label=None
    )

    class Meta:
        model = UseCase
        fields = []

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(key__iexact=value) | Q(name__icontains=value) | Q(purpose__icontains=value))

    def owned_by(self, queryset, name, value):
        person = get_user_model().objects.filter(username=value.strip()).first()
        if person is None:
            return queryset.none()
        return queryset.filter(
            Q(accountable_owner=person)
            | Q(technical_owner=person)
            | Q(business_sponsor=person)
            | Q(data_steward=person)
            | Q(escalation_contact=person)
        )

    def tagged(self, queryset, name, value):
        tag = value.strip().lower()
        # JSON containment is portable across PostgreSQL and SQLite when spelled as a lookup on
        # the list's elements; icontains on the text would match "rag" inside "storage".
        return (
            queryset.filter(tags__contains=[tag])
            if self._supports_json_contains()
            else queryset.filter(tags__icontains=f'"{tag}"')
        )

    def by_ownership_health(self, queryset, name, value):
        return queryset.with_ownership_health().filter(is_orphaned=value)

    def sort_by(self, queryset, name, value):
        return queryset.order_by(*SORTS.get(value, SORTS["key"]))

    def _supports_json_contains(self) -> bool:
        return connection.features.supports_json_field_contains
