"""`propylon import_costs --format focus|cur|cur2|cost_explorer [PATH_OR_S3_URI] [--source NAME]`."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from costs.choices import ImportFormatChoices
from costs.ingest.errors import CostImportError
from costs.models import CostSource
from costs.services.imports import cost_import_run
from costs.templatetags.cost_import_tags import money


class Command(BaseCommand):
    help = (
        "Import billing data into a cost source: a FOCUS file or folder (CSV, CSV.gz, Parquet), a CUR or "
        "CUR 2.0 manifest (or the export's prefix, for this and last month), or Cost Explorer. "
        "Importing the same data again changes nothing; a new delivery replaces its billing period."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=ImportFormatChoices.values())
        parser.add_argument(
            "location",
            nargs="?",
            default=None,
            metavar="PATH_OR_S3_URI",
            help="File, folder, manifest or s3:// address. Default: the source's location.",
        )
        parser.add_argument("--source", metavar="NAME", help="The cost source (needed when several fit).")
        parser.add_argument(
            "--period",
            action="append",
            metavar="YYYY-MM",
            help="Billing month(s) to read from a CUR prefix or Cost Explorer (repeatable).",
        )

    def handle(self, *args, format, location=None, source=None, period=None, **options):
        cost_source = self._source(format, source)
        try:
            periods = [date.fromisoformat(f"{p}-01") for p in period] if period else None
        except ValueError:
            raise CommandError("--period takes a month as YYYY-MM.") from None
        last = {"percent": -1}

        def progress(percent: float, message: str) -> None:
            whole = int(percent)
            if whole != last["percent"]:
                last["percent"] = whole
                self.stdout.write(f"{whole:3d}%  {message}")

        try:
            outcome = cost_import_run(
                source=cost_source,
                location=location,
                format=format,
                actor=None,
                periods=periods,
                progress=progress,
            )
        except CostImportError as exc:
            raise CommandError(f"Import failed, nothing changed: {exc}") from None
        for item in outcome.imports:
            totals = ", ".join(
                f"{c} billed {money(v['billed'])} effective {money(v['effective'])}"
                for c, v in item.totals.items()
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"{item.billing_period_start:%Y-%m}: {item.row_count:,} line items (import #{item.pk}); {totals or 'no charges'}"
                )
            )
        for line in outcome.warnings:
            self.stdout.write(self.style.WARNING(f"Warning: {line}"))
        for line in outcome.unchanged:
            self.stdout.write(f"Unchanged: {line}")
        for line in outcome.skipped:
            self.stdout.write(f"Skipped: {line}")

    def _source(self, fmt: str, name: str | None) -> CostSource:
        kinds = [kind for kind, f in ImportFormatChoices.FOR_SOURCE_KIND.items() if f == fmt]
        if name:
            source = CostSource.objects.filter(name=name).first()
            if source is None:
                raise CommandError(f'No cost source is named "{name}".')
            return source
        candidates = list(CostSource.objects.filter(kind__in=kinds, enabled=True))
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise CommandError(
                f"No enabled cost source reads {fmt}; an administrator creates one at /costs/sources/new/."
            )
        raise CommandError(
            "Several cost sources read this format; name one with --source: "
            + ", ".join(f'"{c.name}"' for c in candidates)
        )
