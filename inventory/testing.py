"""Factories for the catalog's test data, importable by every app's tests."""

import factory

from inventory.models import BusinessUnit, Team
from inventory.services.organisation import team_create


class BusinessUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessUnit

    name = factory.Sequence(lambda n: f"Business unit {n}")
    slug = factory.Sequence(lambda n: f"unit-{n}")


class TeamFactory(factory.django.DjangoModelFactory):
    """Teams are made by the service, so they get their group and the lead's permission."""

    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")
    business_unit = factory.SubFactory(BusinessUnitFactory)

    @classmethod
    def _create(cls, model_class, *args, members=(), **kwargs):
        return team_create(members=members or (), **kwargs)
