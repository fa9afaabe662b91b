"""System checks for the way Propylon is deployed (run by `propylon check --deploy`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.database, deploy=True)
def production_services(app_configs, **kwargs):
    issues = []
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        issues.append(
            Warning(
                "Production is running on SQLite.",
                hint="Set DATABASE_URL to a PostgreSQL database (postgres://user:password@host:5432/name).",
                id="propylon.W001",
            )
        )
    if not settings.CELERY_BROKER_URL:
        issues.append(
            Warning(
                "No Celery broker: background jobs would run inside web requests.",
                hint="Set CELERY_BROKER_URL (redis:// or amqp://) and run `celery -A portal worker` and beat.",
                id="propylon.W002",
            )
        )
    return issues
