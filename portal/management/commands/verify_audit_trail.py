from django.core.management.base import BaseCommand, CommandError

from portal.audit import verify_chain


class Command(BaseCommand):
    help = (
        "Recompute the audit trail's hash chain and compare it with the latest signed checkpoint; "
        "report 'intact', the first broken entry, or the entries deleted from the end."
    )

    def handle(self, *args, **options):
        result = verify_chain()
        if result.intact:
            self.stdout.write(self.style.SUCCESS(result.summary()))
            return
        raise CommandError(result.summary())
