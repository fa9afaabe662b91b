import factory
from django.contrib.auth import get_user_model

from inventory.models import BusinessUnit, Team
from inventory.services import team_create
from portal.models import JobRun
from portal.roles import role_groups


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*role_groups(*extracted))
            self._propylon_roles = None


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


class JobRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobRun

    task_name = "portal.prune_job_runs"
    label = "Prune old job runs"
