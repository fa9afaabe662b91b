import factory
from django.contrib.auth import get_user_model

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


class JobRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobRun

    task_name = "portal.prune_job_runs"
    label = "Prune old job runs"
