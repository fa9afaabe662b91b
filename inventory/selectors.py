"""Reads of the catalog that reach a person, always through portal.permissions.restrict."""

from django.db.models import Count, Q, QuerySet

from inventory.filtersets import UseCaseFilterSet
from inventory.models import UseCase
from inventory.services import OPTIONAL_PEOPLE_FIELDS
from portal.permissions import Action, get_restricted_object_or_404, restrict


def use_cases_visible_to(user) -> QuerySet:
    return (
        restrict(UseCase.objects.all(), user)
        .select_related("owning_team", "business_unit", "lifecycle_stage", "accountable_owner")
        .with_ownership_health()
    )


def use_case_list(*, user, params) -> tuple[UseCaseFilterSet, QuerySet]:
    """The filtered list the page, the API and the exports share."""
    filterset = UseCaseFilterSet(params, queryset=use_cases_visible_to(user))
    queryset = filterset.qs if filterset.is_valid() else use_cases_visible_to(user).none()
    if not params.get("sort"):
        queryset = queryset.order_by("key")
    return filterset, queryset


def use_case_for(*, user, key: str, action: str = Action.VIEW) -> UseCase:
    return get_restricted_object_or_404(
        # Optional people are prefetched rather than joined: see UseCaseViewSet.queryset.
        UseCase.objects.select_related("owning_team", "business_unit", "lifecycle_stage", "accountable_owner")
        .prefetch_related(*OPTIONAL_PEOPLE_FIELDS, "created_by")
        .with_ownership_health(),
        user,
        action,
        key=key.upper(),
    )


def portfolio_counts(*, user) -> dict:
    """Headline numbers of the visible portfolio, in one query."""
    return restrict(UseCase.objects.all(), user).aggregate(
        total=Count("pk"),
        drafts=Count("pk", filter=Q(lifecycle_stage__isnull=True)),
        production=Count("pk", filter=Q(lifecycle_stage__kind="production")),
        high_risk=Count("pk", filter=Q(risk_tier__in=["high", "prohibited"])),
    )
