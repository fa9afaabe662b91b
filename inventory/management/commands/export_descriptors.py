"""`propylon export_descriptors DIR`: write one YAML descriptor per use case (bootstrap a repo)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from inventory.management.commands.sync_descriptors import acting_context, acting_user
from inventory.models import Team, UseCase
from inventory.services.descriptors import write_descriptors
from portal import audit
from portal.permissions import Action, restrict


class Command(BaseCommand):
    help = "Write one YAML descriptor per use case into DIR, named <key>-<name>.yaml."

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", help="Folder to write into (created if missing).")
        parser.add_argument("--team", metavar="SLUG", help="Only this team's use cases.")
        parser.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            help="Export what this person may see. Default: the first active administrator.",
        )

    def handle(self, *args, directory, team=None, username=None, **options):
        folder = Path(directory)
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"{folder} exists and is not a folder.")
        user = acting_user(username)
        use_cases = restrict(UseCase.objects.all(), user, Action.VIEW).select_related(
            "owning_team",
            "lifecycle_stage",
            "accountable_owner",
            "technical_owner",
            "business_sponsor",
            "data_steward",
            "escalation_contact",
        )
        if team:
            chosen = Team.objects.filter(slug=team).first()
            if chosen is None:
                raise CommandError(f'No team has the slug "{team}".')
            use_cases = use_cases.filter(owning_team=chosen)
        try:
            with acting_context(user, "export_descriptors"):
                written = write_descriptors(use_cases.order_by("key").iterator(chunk_size=500), folder)
                audit.record(
                    audit.AuditActionChoices.EXPORT,
                    message=f"Exported {len(written)} use case descriptor(s) to {folder}.",
                    extra={"format": "yaml", "rows": len(written), "folder": str(folder), "team": team or ""},
                )
        except OSError as exc:
            raise CommandError(f"Cannot write to {folder}: {exc.strerror or exc}.") from exc
        self.stdout.write(f"Wrote {len(written)} descriptor(s) to {folder}.")
