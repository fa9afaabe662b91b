"""Environments: where releases run, configured by administrators."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from inventory.choices import EnvironmentKindChoices
from inventory.models import Environment

ENVIRONMENT_FIELDS = ("name", "slug", "kind", "description")


@transaction.atomic
def environment_create(*, name: str, kind: str, slug: str = "", description: str = "") -> Environment:
    environment = Environment(name=name, slug=slug or slugify(name), kind=kind, description=description)
    environment.full_clean()
    environment.save()
    return environment


@transaction.atomic
def environment_update(*, environment: Environment, **changes) -> Environment:
    environment = Environment.objects.select_for_update().get(pk=environment.pk)
    if (
        environment.kind == EnvironmentKindChoices.PRODUCTION
        and changes.get("kind", environment.kind) != environment.kind
    ):
        # Production is where a covering approval is required (invariant 1): relabelling it
        # would let its releases through without one.
        raise ValidationError(
            {
                "kind": [
                    f"“{environment.name}” is a production environment and stays one; add a new environment instead."
                ]
            }
        )
    for name, value in changes.items():
        if name in ENVIRONMENT_FIELDS:
            setattr(environment, name, value)
    environment.full_clean()
    environment.save()
    return environment
