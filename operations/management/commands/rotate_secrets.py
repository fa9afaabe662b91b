"""`propylon rotate_secrets`: re-encrypt every stored target secret with the newest key."""

from django.core.management.base import BaseCommand, CommandError

from operations.secrets import SecretUnreadable
from operations.services.targets import targets_reencrypt
from portal.audit import audit_context
from portal.choices import ChannelChoices


class Command(BaseCommand):
    help = (
        "Re-encrypt every deployment target's stored secrets with the first key of PROPYLON_SECRET_KEYS. "
        "Rotate a key by putting the new key first, running this command, then removing the old key."
    )

    def handle(self, *args, **options):
        with audit_context(channel=ChannelChoices.COMMAND, label="propylon rotate_secrets"):
            try:
                count = targets_reencrypt()
            except SecretUnreadable as exc:
                raise CommandError(f"{exc} Nothing was re-encrypted.") from exc
        noun = "secret" if count == 1 else "secrets"
        self.stdout.write(f"Re-encrypted {count} {noun} with the first key of PROPYLON_SECRET_KEYS.")
