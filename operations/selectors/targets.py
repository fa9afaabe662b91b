"""Reads of deployment targets that reach a person (always through restrict())."""

from django.db.models import QuerySet

from operations.models import DeploymentTarget
from portal.permissions import Action, restrict


def targets_visible_to(user) -> QuerySet[DeploymentTarget]:
    return restrict(DeploymentTarget.objects.all(), user, Action.VIEW).select_related(
        "environment", "use_case"
    )
