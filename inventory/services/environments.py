"""Environments: where releases run, configured by administrators."""

from django.db import transaction
from django.utils.text import slugify

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
    for name, value in changes.items():
        if name in ENVIRONMENT_FIELDS:
            setattr(environment, name, value)
    environment.full_clean()
    environment.save()
    return environment
