"""Run the audit now, in this process (no broker or worker needed), and print what it did.

    propylon run_audit                          # every check over the whole portfolio
    propylon run_audit --use-case UC-0001       # one use case (portfolio-wide checks skipped)
    propylon run_audit --check orphaned-owner --check budget-overrun

The run is recorded like any other (``/audits/``), through the same service the job calls.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from approvals.services.audits import audit_run_create, audit_run_execute, checks_for_scope
from inventory.models import UseCase
from portal.choices import ChannelChoices, JobStatusChoices


class Command(BaseCommand):
    help = "Run the registered audit checks now and update the findings."

    def add_arguments(self, parser):
        parser.add_argument("--use-case", metavar="KEY", help="Audit one use case (e.g. UC-0001).")
        parser.add_argument(
            "--check", dest="checks", action="append", metavar="ID", help="Run only this check (repeatable)."
        )

    def handle(self, *args, **options):
        use_case = None
        if options["use_case"]:
            use_case = UseCase.objects.filter(key=options["use_case"].strip().upper()).first()
            if use_case is None:
                raise CommandError(f"No use case has the key {options['use_case']!r}.")
        try:
            chosen = checks_for_scope(use_case=use_case, check_ids=options["checks"])
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        if not chosen:
            raise CommandError("No audit check is registered for this scope: nothing to run.")
        run = audit_run_create(actor=None, use_case=use_case, channel=ChannelChoices.COMMAND)
        run = audit_run_execute(run, check_ids=[check.id for check in chosen])

        counts = run.counts
        scope = use_case.key if use_case else "the portfolio"
        self.stdout.write(
            f"Audit run #{run.pk} of {scope}: {len(run.checks_run)} check(s) in {run.duration_ms / 1000:.1f} s."
        )
        width = max(len(check_id) for check_id in run.checks_run)
        for check_id in run.checks_run:
            if check_id in counts["errors"]:
                self.stdout.write(f"  {check_id:<{width}}  FAILED: {counts['errors'][check_id]}")
                continue
            row = counts["per_check"][check_id]
            self.stdout.write(
                f"  {check_id:<{width}}  {row['observed']:>6} observed {row['opened']:>6} opened "
                f"{row['cleared']:>6} cleared"
            )
        self.stdout.write(
            f"Total: {counts['observed']} observed, {counts['opened']} opened, {counts['reopened']} reopened, "
            f"{counts['updated']} seen again, {counts['cleared']} cleared."
        )
        if run.status == JobStatusChoices.FAILED:
            raise CommandError("Every check failed; no finding was changed.")
        if counts["errors"]:
            self.stderr.write(
                f"{len(counts['errors'])} check(s) failed; their findings were left as they were."
            )
