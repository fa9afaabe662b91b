from django.core.management.base import BaseCommand, CommandError

from portal.audit import verify_chain


class Command(BaseCommand):
    help = "Recompute the audit trail's hash chain; report 'intact' or the first broken entry."

    def handle(self, *args, **options):
        result = verify_chain()
        if result.intact:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Audit trail intact: {result.checked} entries, head hash {result.head_hash}."
                )
            )
            return
        raise CommandError(
            f"Audit trail broken at entry #{result.broken_entry_id}: {result.reason}. "
            f"{result.checked} entries before it verified."
        )
