from django.core.management.base import BaseCommand, CommandError

from portal.audit import CheckpointError, write_checkpoint


class Command(BaseCommand):
    help = (
        "Sign the audit trail's head (entry id, hash, count, time) into PROPYLON_AUDIT_CHECKPOINT_DIR. "
        "Beat does this every 15 minutes; run it by hand before and after maintenance."
    )

    def handle(self, *args, **options):
        try:
            checkpoint = write_checkpoint()
        except CheckpointError as exc:
            raise CommandError(str(exc)) from exc
        if checkpoint is None:
            self.stdout.write("The audit trail is empty: nothing to checkpoint.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint {checkpoint.file_name}: entry #{checkpoint.entry_id}, "
                f"{checkpoint.count} entries, head hash {checkpoint.entry_hash}."
            )
        )
