import logging
from contextlib import contextmanager

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from portal.demo import DEMO_PASSWORD, load_demo_portfolio, persona_accounts


@contextmanager
def demo_side_effects_kept_quiet():
    """Loading the demo submits gate requests and crosses budget thresholds, which notify people
    as they would in use. The notifications are recorded and delivered, but to memory: the demo
    people's addresses are example.com, and fifty e-mails printed by the console backend would
    bury the credentials below. Eager jobs' one-line-per-task log is held back for the same
    reason; warnings and errors still show."""
    noisy = [logging.getLogger(name) for name in ("celery.app.trace", "kombu.connection", "portal.jobs")]
    levels = [logger.level for logger in noisy]
    for logger in noisy:
        logger.setLevel(logging.ERROR)
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            yield
    finally:
        for logger, level in zip(noisy, levels, strict=True):
            logger.setLevel(level)


class Command(BaseCommand):
    help = "Migrate, load the demo portfolio and serve Propylon on http://127.0.0.1:8000 (development only)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-serve", action="store_true", help="Prepare the database and demo data only."
        )
        parser.add_argument("--port", type=int, default=8000, help="Port to serve on (default 8000).")
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")

    def handle(self, *args, no_serve: bool, port: int, host: str, **options):
        if settings.IS_PRODUCTION:
            raise CommandError(
                "quickstart loads demo accounts with a shared password and is refused when "
                "PROPYLON_ENV=production. Use `propylon migrate` and create real accounts instead."
            )
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}.")
        database = settings.DATABASES["default"]
        self.stdout.write(
            self.style.MIGRATE_HEADING(
                f"Database: {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}"
            )
        )
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Migrations applied.")
        with demo_side_effects_kept_quiet():
            load_demo_portfolio(report=lambda line: self.stdout.write(f"  {line}"))
        if not settings.CELERY_BROKER_URL:
            self.stdout.write("Background jobs run eagerly in this process (CELERY_BROKER_URL is not set).")

        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo accounts (password for all: {DEMO_PASSWORD})"))
        for person in persona_accounts():
            self.stdout.write(
                f"  {person.persona:<18} {person.username:<10} {person.first_name} {person.last_name}"
            )
        self.stdout.write("")
        if no_serve:
            self.stdout.write(f"Ready. Start the portal with: propylon runserver {host}:{port}")
            return
        self.stdout.write(self.style.SUCCESS(f"Serving Propylon on http://{host}:{port}/ (Ctrl+C to stop)"))
        call_command("runserver", f"{host}:{port}", use_reloader=False)
