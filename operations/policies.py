"""Who may do what with deployment targets, deployments and health signals.

Imported from ``OperationsConfig.ready()`` so the ``@policy`` registrations run. Deployments
and signals follow their use case, through the inventory's helpers.
"""

from django.db.models import QuerySet

from inventory.policies import changeable_use_cases, may_file, visible_use_cases
from operations.models import Deployment, HealthThreshold
from portal.permissions import Action, can_add, is_read_only, is_usable, policy, restrict
from portal.roles import Role, has_role

TARGET_READER_ROLES = (Role.ADMIN, Role.COE_REVIEWER, Role.COE_LEAD, Role.AUDITOR)


def _is_admin(user) -> bool:
    return is_usable(user) and has_role(user, Role.ADMIN)


@policy("operations.deploymenttarget", add=_is_admin)
def _deployment_targets(queryset: QuerySet, user, action: str) -> QuerySet:
    """Admins configure targets (and send test events); the CoE and auditors read how
    production is reached. Secrets are write-only for everyone."""
    if action == Action.VIEW:
        return queryset if has_role(user, *TARGET_READER_ROLES) else queryset.none()
    if action in (*Action.WRITES, "custom:test"):
        return queryset if _is_admin(user) else queryset.none()
    return queryset.none()


@policy("operations.deployment", add=may_file)
def _deployments(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case sees its deployments; the owning team (and admins) deploy and
    roll back. Whether production accepts the release is the service's rule (an approval)."""
    visible = queryset.filter(use_case__in=visible_use_cases(user).values("pk"))
    if action == Action.VIEW:
        return visible
    if action == "custom:rollback":
        return visible.filter(use_case__in=changeable_use_cases(user).values("pk"))
    return queryset.none()


@policy("operations.deploymentevent")
def _deployment_events(queryset: QuerySet, user, action: str) -> QuerySet:
    """Read with their deployment; written only by the deployment service (append-only)."""
    if action != Action.VIEW:
        return queryset.none()
    return queryset.filter(deployment__in=restrict(Deployment.objects.all(), user).values("pk"))


@policy("operations.healthsignal")
def _health_signals(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its signals; monitoring posts them with a
    ``signals:ingest`` token (the API checks the scope, not a person's rights)."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=visible_use_cases(user).values("pk"))
    return queryset.none()


@policy("operations.healththreshold", add=may_file)
def _health_thresholds(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its thresholds; the owning team (and admins) set them."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=visible_use_cases(user).values("pk"))
    if action in Action.WRITES:
        return queryset.filter(use_case__in=changeable_use_cases(user).values("pk"))
    return queryset.none()


#
# Page-level predicates: what a page offers
#


def may_view_targets(user) -> bool:
    """Admins, the CoE and auditors read how each environment is reached (the targets pages)."""
    return is_usable(user) and has_role(user, *TARGET_READER_ROLES)


def may_deploy(user, use_case) -> bool:
    """The owning team (and admins) deploy their use case's releases."""
    return (
        is_usable(user)
        and not is_read_only(user)
        and can_add(user, Deployment)
        and changeable_use_cases(user).filter(pk=use_case.pk).exists()
    )


def may_set_thresholds(user, use_case) -> bool:
    return can_add(user, HealthThreshold) and changeable_use_cases(user).filter(pk=use_case.pk).exists()
