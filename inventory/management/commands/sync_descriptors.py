"""`propylon sync_descriptors DIR`: apply a folder of YAML use case descriptors (catalog as code)."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from inventory.services.descriptors import apply_descriptors, first_admin
from portal.audit import audit_context, current_actor
from portal.choices import ChannelChoices


def acting_user(username: str | None):
    """The person named by --as, or the first active administrator. CommandError otherwise."""
    if username:
        person = get_user_model().objects.filter(username=username).first()
        if person is None:
            raise CommandError(f'No person has the username "{username}".')
        if not person.is_active:
            raise CommandError(f"{username} is no longer active; name an active person with --as.")
        return person
    person = first_admin()
    if person is None:
        raise CommandError("No active administrator exists; name the person to act as with --as USERNAME.")
    return person


def acting_context(user, command: str):
    """Record what the command writes as done by ``user`` through this command."""
    outer = current_actor()
    label = (
        f"{outer.label}, acting as {user.get_username()}"
        if outer.channel == ChannelChoices.COMMAND
        else (f"propylon {command} (acting as {user.get_username()})")
    )
    return audit_context(channel=ChannelChoices.COMMAND, user=user, label=label)


class Command(BaseCommand):
    help = (
        "Apply the YAML use case descriptors (*.yaml, *.yml) in DIR: create missing use cases and update "
        "changed ones, all in one transaction. If any file fails, nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", metavar="DIR", help="Folder holding the descriptors.")
        parser.add_argument(
            "--as",
            dest="username",
            metavar="USERNAME",
            help="Act as this person (permissions and audit trail). Default: the first active administrator.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Validate and report; write nothing.")

    def handle(self, *args, directory, username=None, dry_run=False, **options):
        folder = Path(directory)
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        user = acting_user(username)
        try:
            with acting_context(user, "sync_descriptors"):
                report = apply_descriptors(folder, user=user, dry_run=dry_run)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        for line in report.lines():
            if line.endswith(": error") or line.startswith("  "):
                self.stdout.write(self.style.ERROR(line))
            else:
                self.stdout.write(line)
        if not report.ok:
            failed = len(report.failed)
            raise CommandError(
                f"{failed} descriptor{'s' if failed > 1 else ''} failed; nothing was written. Fix "
                f"{'them' if failed > 1 else 'it'} and run the sync again."
            )
