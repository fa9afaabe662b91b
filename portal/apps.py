from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.utils.module_loading import autodiscover_modules


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal import (
            checks,  # noqa: F401  (registers the deployment checks)
            policies,  # noqa: F401  (registers the plumbing's permission policies)
        )
        from portal.api import schema  # noqa: F401  (registers the OpenAPI token scheme)

        # Web processes must know every job (the registry drives the jobs page and the API),
        # not only the workers where Celery imports tasks modules lazily.
        autodiscover_modules("tasks")

        from django_celery_beat.models import PeriodicTask
        from guardian.models import GroupObjectPermission, UserObjectPermission

        from portal import audit, signals  # noqa: F401  (sign-in receivers)
        from portal.models import ApiToken, User

        audit.register(User, exclude={"last_login"}, secret={"password"})
        audit.register(ApiToken, exclude={"last_used_at"}, secret={"key_hash"})
        # Schedules are configuration; beat's own bookkeeping on them is not.
        audit.register(PeriodicTask, exclude={"last_run_at", "total_run_count", "date_changed"})
        # Object-level grants are governance too: who may change which team, and later which item.
        audit.register(UserObjectPermission)
        audit.register(GroupObjectPermission)

        from portal.api import routes
        from portal.api import urls as api_urls

        routes.register(viewsets=api_urls.viewsets, urlpatterns=api_urls.urlpatterns)

        from portal.views import home

        home.register_own_sections()


class PortalAdminConfig(AdminConfig):
    """Django's admin site, opened by the admin role rather than the is_staff flag."""

    default_site = "portal.admin_site.PortalAdminSite"
