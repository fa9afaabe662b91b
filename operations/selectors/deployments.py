"""Reads about deployments: lists with filters, the use case's Deployments tab, the detail page,
which target serves a use case in an environment, and why a release may not go to production."""

from dataclasses import dataclass

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from approvals.choices import ApprovalStatusChoices
from approvals.models import ApprovalRequest
from approvals.selectors.gates import approval_covering
from inventory.choices import EnvironmentKindChoices
from inventory.models import Environment, Release, UseCase
from operations.choices import DeploymentStatusChoices
from operations.models import Deployment, DeploymentEvent, DeploymentTarget
from operations.policies import may_deploy
from portal.permissions import restrict

PRODUCTION_STAGE = "production"
DEPLOYMENT_RELATED = (
    "use_case",
    "release",
    "environment",
    "target",
    "requested_by",
    "approval",
    "rollback_of",
)


def target_for(*, use_case: UseCase, environment: Environment) -> DeploymentTarget | None:
    """The enabled target that deploys this use case there: its own first, else the default."""
    targets = DeploymentTarget.objects.filter(environment=environment, enabled=True).filter(
        Q(use_case=use_case) | Q(use_case__isnull=True)
    )
    # A use case's own target sorts before the environment default (NULL use case).
    return min(targets, key=lambda target: target.use_case_id is None, default=None)


def in_flight(*, use_case: UseCase, environment: Environment) -> Deployment | None:
    return (
        Deployment.objects.filter(
            use_case=use_case, environment=environment, status__in=DeploymentStatusChoices.IN_FLIGHT
        )
        .order_by("requested_at", "pk")
        .first()
    )


def is_production(environment: Environment) -> bool:
    return environment.kind == EnvironmentKindChoices.PRODUCTION


def why_not_covered(*, use_case: UseCase, release: Release) -> str:
    """Why ``approval_covering`` found nothing for this release: said so a person can act on it."""
    now = timezone.now()
    latest = (
        ApprovalRequest.objects.filter(use_case=use_case, release=release, to_stage__key=PRODUCTION_STAGE)
        .order_by("-submitted_at", "-pk")
        .first()
    )
    name = f"{use_case.key} release {release.version}"
    if latest is None:
        return f"{name} has no production approval: ask for the production gate on its Approvals tab first."
    if latest.status == ApprovalStatusChoices.REVOKED or latest.revoked_at:
        when = f" on {latest.revoked_at:%Y-%m-%d}" if latest.revoked_at else ""
        return f"{name}'s production approval ({latest.reference}) was revoked{when}."
    if latest.status == ApprovalStatusChoices.EXPIRED or (
        latest.status == ApprovalStatusChoices.APPROVED and latest.expires_at and latest.expires_at <= now
    ):
        return f"{name}'s production approval ({latest.reference}) expired on {latest.expires_at:%Y-%m-%d}."
    return (
        f"{name} has no valid production approval: its request {latest.reference} is "
        f"{latest.get_status_display().lower()}."
    )


def covered_release_ids(*, use_case: UseCase) -> set[int]:
    """The use case's releases a valid production approval covers now (one query)."""
    now = timezone.now()
    return set(
        ApprovalRequest.objects.filter(
            use_case=use_case, to_stage__key=PRODUCTION_STAGE, status=ApprovalStatusChoices.APPROVED
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("release_id", flat=True)
    )


def deployments_visible_to(user) -> QuerySet:
    return restrict(Deployment.objects.select_related(*DEPLOYMENT_RELATED), user)


class DeploymentFilterSet(django_filters.FilterSet):
    environment = django_filters.CharFilter(field_name="environment__slug", label="Environment (slug)")
    status = django_filters.MultipleChoiceFilter(choices=DeploymentStatusChoices.pairs())
    use_case = django_filters.CharFilter(field_name="use_case__key", label="Use case key")
    current = django_filters.BooleanFilter(
        field_name="is_current", label="Current release of its environment"
    )

    class Meta:
        model = Deployment
        fields = ["environment", "status", "use_case", "current"]


def deployment_list(*, user, params) -> tuple[DeploymentFilterSet, QuerySet]:
    filterset = DeploymentFilterSet(params, queryset=deployments_visible_to(user))
    return filterset, filterset.qs


def deployment_events(deployment: Deployment) -> QuerySet:
    return DeploymentEvent.objects.filter(deployment=deployment).select_related("actor").order_by("at", "pk")


@dataclass
class EnvironmentRow:
    environment: Environment
    current: Deployment | None
    in_flight: Deployment | None


def deployments_tab(*, user, use_case: UseCase, history_limit: int = 50) -> dict:
    """The use case's Deployments tab: per environment what runs now (exactly one, or nothing)
    and what is on its way, the history, and what the deploy form offers. A fixed number of
    queries, however many deployments and environments there are."""
    history = list(
        restrict(Deployment.objects.filter(use_case=use_case), user)
        .select_related("release", "environment", "requested_by", "rollback_of")
        .order_by("-requested_at", "-pk")[:history_limit]
    )
    current = {
        deployment.environment_id: deployment
        for deployment in Deployment.objects.filter(use_case=use_case, is_current=True).select_related(
            "release", "environment", "requested_by"
        )
    }
    flying = {}
    for deployment in (
        Deployment.objects.filter(use_case=use_case, status__in=DeploymentStatusChoices.IN_FLIGHT)
        .select_related("release", "environment")
        .order_by("-requested_at")
    ):
        flying.setdefault(deployment.environment_id, deployment)
    environments = list(Environment.objects.all())
    rows = [EnvironmentRow(env, current.get(env.pk), flying.get(env.pk)) for env in environments]
    deployable = may_deploy(user, use_case)
    releases = list(Release.objects.filter(use_case=use_case).order_by("-created_at")) if deployable else []
    covered = covered_release_ids(use_case=use_case) if deployable else set()
    return {
        "environment_rows": rows,
        "deployments": history,
        "may_deploy": deployable,
        "deploy_releases": releases,
        "covered_releases": [release for release in releases if release.pk in covered],
        "has_production": any(is_production(env) for env in environments),
    }


def previous_success(deployment: Deployment) -> Deployment | None:
    """The latest deployment of another release that succeeded in the same environment before
    this one (what a rollback would redeploy)."""
    return (
        Deployment.objects.filter(
            use_case_id=deployment.use_case_id,
            environment_id=deployment.environment_id,
            status=DeploymentStatusChoices.SUCCEEDED,
            requested_at__lte=deployment.requested_at,
        )
        .exclude(pk=deployment.pk)
        .exclude(release_id=deployment.release_id)
        .select_related("release")
        .order_by("-finished_at", "-requested_at", "-pk")
        .first()
    )


def production_covers(*, use_case: UseCase, release: Release):
    return approval_covering(use_case, release, PRODUCTION_STAGE)
