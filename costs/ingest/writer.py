"""Writing a cost import: one import unit's normalised batches, into load tables that are not
current yet, then swapped in atomically per billing period (see costs.services.imports).

Every format arrives as :data:`costs.ingest.batch.NORMALIZED` Arrow batches. Per batch the
writer checks what only the whole delivery can tell (the period a manifest names, one currency
per billing account), maps the repeating values to dimension ids
(:class:`costs.ingest.dimensions.DimensionMapper`), adds the batch's exact decimal totals per
period and currency, and appends the narrow rows to the period's load
(:mod:`costs.ingest.store`). Nothing of this runs a Python loop over rows.
"""

import logging
import os
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import transaction
from django.utils import timezone

from costs.choices import CostImportStatusChoices, ImportFormatChoices
from costs.ingest import store
from costs.ingest.dimensions import DimensionMapper
from costs.ingest.errors import CostImportError
from costs.ingest.normalize import money_text
from costs.ingest.plan import ImportUnit, Progress
from costs.models import CostImport, CostSource
from portal import audit
from portal.choices import AuditActionChoices
from portal.dates import next_month

logger = logging.getLogger(__name__)

# A running import writes its heartbeat this often; one silent for
# PROPYLON_COST_IMPORT_ABANDONED_MINUTES is taken as abandoned (cost_imports_reap_abandoned).
HEARTBEAT_SECONDS = 30
MAX_TAG_COLLISION_WARNINGS = 20

# How each format names the columns the writer checks, for its messages.
PERIOD_COLUMN = {
    ImportFormatChoices.FOCUS: "BillingPeriodStart",
    ImportFormatChoices.CUR: "bill/BillingPeriodStartDate",
    ImportFormatChoices.CUR2: "bill_billing_period_start_date",
    ImportFormatChoices.COST_EXPLORER: "TimePeriod.Start",
}
CURRENCY_COLUMN = {
    ImportFormatChoices.FOCUS: "BillingCurrency",
    ImportFormatChoices.CUR: "lineItem/CurrencyCode",
    ImportFormatChoices.CUR2: "line_item_currency_code",
    ImportFormatChoices.COST_EXPLORER: "Unit",
}


@dataclass
class ImportOutcome:
    imports: list[CostImport] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    empty: list[CostImport] = field(default_factory=list)  # read whole, no line item in it

    @property
    def warnings(self) -> list[str]:
        return [
            f"Import #{item.pk}: {text}" for item in [*self.imports, *self.empty] for text in item.warnings
        ]

    def as_dict(self) -> dict:
        return {
            "empty_imports": [item.pk for item in self.empty],
            "warnings": self.warnings,
            "imports": [item.pk for item in self.imports],
            "periods": [f"{item.billing_period_start:%Y-%m}" for item in self.imports],
            "rows": sum(item.row_count for item in self.imports),
            "unchanged": self.unchanged,
            "skipped": self.skipped,
        }


def _decimal(value) -> Decimal:
    return Decimal(0) if value is None else value


class Writer:
    """Writes one unit's batches into loads of not-yet-current imports (one per billing period met)."""

    def __init__(self, *, source: CostSource, unit: ImportUnit, job_run, started_by: str):
        self.source = source
        self.unit = unit
        self.job_run = job_run
        self.started_by = started_by
        self.imports: dict[date, CostImport] = {}
        self.totals: dict[date, dict[str, dict]] = defaultdict(dict)
        self.rows: dict[date, int] = defaultdict(int)
        self.account_currency: dict[tuple[date, str], tuple[str, str, object]] = {}
        self.first_failed_period = unit.period_start
        # (period, normalised key, kept raw key, dropped raw key) → [line items, file, row]
        self.tag_collisions: dict[tuple, list] = {}
        self.mapper = DimensionMapper()
        # (period, file index) → rows of that file already written to the period's load
        self.file_rows: dict[tuple[date, int], int] = defaultdict(int)
        self.worker = worker_identity()
        self.last_beat = time.monotonic()

    @property
    def written(self) -> int:
        return sum(self.rows.values())

    def _import_for(self, period: date, period_end: date | None) -> CostImport:
        cost_import = self.imports.get(period)
        if cost_import is None:
            cost_import = CostImport.objects.create(
                source=self.source,
                format=self.unit.format,
                billing_period_start=period,
                billing_period_end=period_end or self.unit.period_end or next_month(period),
                identifier=self.unit.identifier,
                location=self.unit.location[:1000],
                status=CostImportStatusChoices.RUNNING,
                job_run=self.job_run,
                started_by=self.started_by[:200],
                is_estimated=self.unit.estimated,
                worker=self.worker[:300],
                heartbeat_at=timezone.now(),
            )
            self.imports[period] = cost_import
            store.prepare(cost_import.pk)
        return cost_import

    def _check(self, batch: pa.RecordBatch, file: str) -> None:
        """The checks that need more than one row; the earliest offending row is reported."""
        problems: list[tuple[int, CostImportError]] = []
        rows = batch.column("row")
        periods = batch.column("billing_period_start")
        if self.unit.period_start:
            wrong = pc.not_equal(periods, pa.scalar(self.unit.period_start, pa.date32()))
            if pc.any(wrong).as_py():
                index = pc.index(wrong, True).as_py()
                problems.append((rows[index].as_py(), CostImportError(
                    f"the row belongs to the billing period starting {periods[index].as_py()}, but the "
                    f"manifest is for the period starting {self.unit.period_start}.",
                    file=file, row=rows[index].as_py(), column=PERIOD_COLUMN[self.unit.format],
                )))  # fmt: skip
        firsts = (
            pa.table({"period": periods, "account": batch.column("billing_account_id"),
                      "currency": batch.column("billing_currency"), "row": rows})
            .group_by(["period", "account", "currency"], use_threads=False)
            .aggregate([("row", "min")])
            .sort_by("row_min")
            .to_pylist()
        )  # fmt: skip
        for first in firsts:
            key = (first["period"], first["account"])
            seen = self.account_currency.setdefault(key, (first["currency"], file, first["row_min"]))
            if seen[0] != first["currency"]:
                account = first["account"] or "(none)"
                problems.append((first["row_min"], CostImportError(
                    f"currency {first['currency']} differs from {seen[0]} used by billing account {account} "
                    f"(first seen in {seen[1]}, row {seen[2]}); a billing account is invoiced in one "
                    "currency, so the export mixes currencies and cannot be reconciled.",
                    file=file, row=first["row_min"], column=CURRENCY_COLUMN[self.unit.format],
                )))  # fmt: skip
                break
        if problems:
            raise min(problems, key=lambda problem: problem[0])[1]

    def add_batch(self, batch: pa.RecordBatch, *, file: str, file_index: int) -> None:
        if not batch.num_rows:
            return
        self._check(batch, file)
        mapped = self.mapper.map(batch)
        periods = batch.column("billing_period_start")
        ends = batch.column("billing_period_end")
        for period in pc.unique(periods).to_pylist():
            if period not in self.imports:
                first_end = ends[pc.index(periods, pa.scalar(period, pa.date32())).as_py()].as_py()
                self._import_for(period, first_end)
            part, mask = batch, None
            if len(pc.unique(periods)) > 1:
                selected = pc.equal(periods, pa.scalar(period, pa.date32()))
                part = batch.filter(selected)
                mask = selected.to_numpy(zero_copy_only=False)
            self._write(period, part, mapped, mask, file_index)
        for text, seen in mapped.tag_collisions.items():
            self._count_collisions(batch, text, seen, file)

    def _write(self, period: date, part: pa.RecordBatch, mapped, mask, file_index: int) -> None:
        cost_import = self.imports[period]
        count = part.num_rows
        first_row = self.file_rows[(period, file_index)]
        self.file_rows[(period, file_index)] += count

        def pick(values: np.ndarray) -> np.ndarray:
            return values if mask is None else values[mask]

        narrow = pa.table(
            {
                "id": store.line_item_ids(cost_import.pk, file_index, first_row, count),
                "cost_import_id": np.full(count, cost_import.pk, dtype=np.int64),
                "source_id": np.full(count, self.source.pk, dtype=np.int64),
                "billing_period_start": part.column("billing_period_start"),
                "charge_period_start": part.column("charge_period_start"),
                "charge_period_end": part.column("charge_period_end"),
                "charge_date": pc.cast(part.column("charge_period_start"), pa.date32()),
                "profile_id": pick(mapped.profile_id),
                "region_id": pick(mapped.region_id),
                "sku_id": pick(mapped.sku_id),
                "charge_id": pick(mapped.charge_id),
                "usage_quantity": part.column("usage_quantity"),
                "billed_cost": part.column("billed_cost"),
                "effective_cost": part.column("effective_cost"),
                "list_cost": part.column("list_cost"),
                "billing_currency": part.column("billing_currency"),
            },
            schema=store.NARROW_SCHEMA,
        )
        store.write(cost_import.pk, narrow)
        sums = (
            pa.table({"currency": part.column("billing_currency"), "billed": part.column("billed_cost"),
                      "effective": part.column("effective_cost"), "list": part.column("list_cost")})
            .group_by("currency", use_threads=False)
            .aggregate([("billed", "sum"), ("effective", "sum"), ("list", "sum"), ("billed", "count")])
            .to_pylist()
        )  # fmt: skip
        for line in sums:
            totals = self.totals[period].setdefault(
                line["currency"],
                {"billed": Decimal(0), "effective": Decimal(0), "list": Decimal(0), "rows": 0},
            )
            totals["billed"] += _decimal(line["billed_sum"])
            totals["effective"] += _decimal(line["effective_sum"])
            totals["list"] += _decimal(line["list_sum"])
            totals["rows"] += line["billed_count"]
        self.rows[period] += count

    def _count_collisions(self, batch: pa.RecordBatch, text: str, seen, file: str) -> None:
        """Tag keys that normalise alike: counted per (period, keys), first file and row kept."""
        periods = batch.column("billing_period_start")
        period = (
            periods[0].as_py()
            if len(pc.unique(periods)) == 1
            else periods[pc.index(batch.column("row"), seen.first_row).as_py()].as_py()
        )
        for collision in seen.collisions:
            key = (period, *collision)
            if len(self.tag_collisions) >= MAX_TAG_COLLISION_WARNINGS and key not in self.tag_collisions:
                continue
            entry = self.tag_collisions.setdefault(key, [0, file, seen.first_row])
            entry[0] += seen.rows

    def beat(self) -> None:
        """Say the import is alive, at most every HEARTBEAT_SECONDS (reading can be slow)."""
        now = time.monotonic()
        if now - self.last_beat < HEARTBEAT_SECONDS or not self.imports:
            return
        self.last_beat = now
        CostImport.objects.filter(pk__in=[i.pk for i in self.imports.values()]).update(
            heartbeat_at=timezone.now()
        )

    def warnings_for(self, period: date | None) -> list[str]:
        found = []
        for (at, normal, kept, dropped), (count, file, where) in self.tag_collisions.items():
            if at != period:
                continue
            if kept == dropped:
                what = f"Tag key “{kept}” appears twice in a row"
            else:
                what = f"Tag keys “{kept}” and “{dropped}” both normalise to “{normal}”"
            found.append(
                f"{what} on {count} line item(s), first in {file}, row {where}: the first value "
                f"(of “{kept}”) was kept, the other ignored for allocation."
            )
        if len(self.tag_collisions) >= MAX_TAG_COLLISION_WARNINGS:
            found.append(f"More tag keys collide; only the first {MAX_TAG_COLLISION_WARNINGS} are listed.")
        return found

    def abandon(self, message: str, files: list[dict]) -> list[CostImport]:
        failed = []
        for cost_import in self.imports.values():
            store.discard(cost_import.pk)
        with transaction.atomic():
            if not self.imports:
                self.imports[None] = CostImport(
                    source=self.source,
                    format=self.unit.format,
                    billing_period_start=self.unit.period_start,
                    billing_period_end=self.unit.period_end,
                    identifier=self.unit.identifier,
                    location=self.unit.location[:1000],
                    job_run=self.job_run,
                    started_by=self.started_by[:200],
                )
            for cost_import in self.imports.values():
                cost_import.status = CostImportStatusChoices.FAILED
                cost_import.is_current = False
                cost_import.error_message = message
                cost_import.row_count = 0
                cost_import.totals = {}
                cost_import.files = files
                cost_import.finished_at = timezone.now()
                cost_import.save()
                failed.append(cost_import)
        return failed

    def record_empty(self, files: list[dict]) -> CostImport:
        """Input read whole without a single line item and no period known (a header-only FOCUS
        file): nothing can be replaced, but the attempt is kept and says so."""
        names = ", ".join(f["name"] for f in files) or self.unit.location
        return CostImport.objects.create(
            source=self.source,
            format=self.unit.format,
            identifier=self.unit.identifier,
            location=self.unit.location[:1000],
            status=CostImportStatusChoices.EMPTY,
            files=files,
            warnings=[
                f"No line items: {names} holds a header but no rows. Nothing was imported; "
                "the current data of every period stays as it was."
            ],
            job_run=self.job_run,
            started_by=self.started_by[:200],
            finished_at=timezone.now(),
        )

    def commit(self, files: list[dict]) -> list[CostImport]:
        if not self.imports and self.unit.period_start:
            # A manifest that lists no rows (nothing billed yet) still states the period.
            self._import_for(self.unit.period_start, self.unit.period_end)
        for cost_import in self.imports.values():
            store.finish(cost_import.pk)
        committed = []
        with transaction.atomic():
            # One swap at a time per source, so two runs cannot both make their import current.
            CostSource.objects.select_for_update().filter(pk=self.source.pk).first()
            stopped = (
                CostImport.objects.filter(pk__in=[i.pk for i in self.imports.values()])
                .exclude(status=CostImportStatusChoices.RUNNING)
                .first()
            )
            if stopped is not None:
                # Taken for abandoned meanwhile (its heartbeat went stale): what it wrote is gone.
                raise CostImportError(
                    f"was stopped meanwhile: {stopped.error_message}", file=self.unit.location
                )
            for period, cost_import in sorted(self.imports.items()):
                previous = (
                    CostImport.objects.select_for_update()
                    .filter(source=self.source, billing_period_start=period, is_current=True)
                    .first()
                )
                store.swap(cost_import.pk, previous.pk if previous else None)
                if previous is not None:
                    previous.is_current = False
                    previous.status = CostImportStatusChoices.SUPERSEDED
                    previous.save(update_fields=["is_current", "status"])
                cost_import.replaced = previous
                cost_import.is_current = True
                cost_import.status = CostImportStatusChoices.SUCCEEDED
                cost_import.row_count = self.rows.get(period, 0)
                cost_import.totals = _totals_json(self.totals.get(period, {}))
                cost_import.files = files
                cost_import.finished_at = timezone.now()
                cost_import.warnings = self.warnings_for(period)
                if not cost_import.row_count:
                    cost_import.warnings.insert(
                        0,
                        f"No line items: {cost_import.location} lists no billed rows for {period:%Y-%m}; "
                        "the period's current data is now empty.",
                    )
                cost_import.save()
                audit.record(
                    AuditActionChoices.IMPORT,
                    obj=cost_import,
                    message=(
                        f"Imported {cost_import.row_count} billing line item(s) of {period:%Y-%m} "
                        f"from {self.source.name}"
                        + (f", replacing import #{previous.pk}" if previous else "")
                        + "."
                    ),
                    extra={
                        "source": self.source.name,
                        "format": self.unit.format,
                        "identifier": self.unit.identifier,
                        "location": self.unit.location,
                        "files": files,
                        "rows": cost_import.row_count,
                        "totals": cost_import.totals,
                        "replaced_import": previous.pk if previous else None,
                        "warnings": cost_import.warnings,
                    },
                )
                committed.append(cost_import)
        return committed


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" where unknown: with the
    pid it tells a process from a later one that reused the pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def worker_identity() -> str:
    """host:pid:start of this process, as a running import records it."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start(pid)}"


def worker_is_gone(worker: str) -> bool:
    """True only when the writing process ran on this host and is certainly not running now.
    (Containers sharing a host name must share the process table, as they do by default.)"""
    host, _, rest = worker.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return bool(start) and _process_start(pid) not in ("", start)


def _totals_json(totals: dict[str, dict]) -> dict[str, dict]:
    return {
        currency: {
            "billed": money_text(values["billed"]),
            "effective": money_text(values["effective"]),
            "list": money_text(values["list"]),
            "rows": values["rows"],
        }
        for currency, values in sorted(totals.items())
    }


def _current_with_identifier(source: CostSource, unit: ImportUnit) -> CostImport | None:
    """The current import of this very delivery, if every period it brought is still current.

    A delivery once split into several periods (a FOCUS file of two months) is unchanged only
    while none of those periods was replaced by another delivery since; otherwise it is read
    again and restores them.
    """
    earlier = CostImport.objects.filter(
        source=source,
        format=unit.format,
        identifier=unit.identifier,
        status__in=[CostImportStatusChoices.SUCCEEDED, CostImportStatusChoices.SUPERSEDED],
    )
    periods = set(earlier.values_list("billing_period_start", flat=True))
    if not periods:
        return None
    current = CostImport.objects.filter(source=source, is_current=True, billing_period_start__in=periods)
    if current.exclude(identifier=unit.identifier).exists() or current.count() != len(periods):
        return None
    return current.order_by("billing_period_start").first()


def import_unit(
    *,
    source: CostSource,
    unit: ImportUnit,
    job_run,
    started_by: str,
    progress: Progress | None,
    outcome: ImportOutcome,
) -> None:
    already = _current_with_identifier(source, unit)
    if already is not None:
        outcome.unchanged.append(f"{unit.location}: already imported as #{already.pk}")
        return
    writer = Writer(source=source, unit=unit, job_run=job_run, started_by=started_by)
    total_parts = max(len(unit.parts), 1)
    part_name = unit.location
    try:
        for index, part in enumerate(unit.parts):
            part_name = part.name
            for batch in part.batches():
                writer.add_batch(batch, file=part.name, file_index=index)
                writer.beat()
                if progress:
                    progress(
                        100 * (index + part.fraction()) / total_parts,
                        f"{Path(part.name).name}: {writer.written:,} line items written",
                    )
        files = [p.record() for p in unit.parts]
        if not writer.imports and not unit.period_start:
            empty = writer.record_empty(files)
            outcome.empty.append(empty)
            logger.warning("cost import #%s: %s", empty.pk, empty.warnings[0])
            return
        # Inside the try: a commit refused (taken for abandoned meanwhile) or failing leaves no rows.
        committed = writer.commit(files)
    except CostImportError as exc:
        writer.abandon(str(exc.located(file=part_name)), [p.record() for p in unit.parts])
        raise
    except BaseException as exc:
        # Cancellation or a crash: nothing of this import may stay behind (the worker log has
        # the traceback; the import keeps a one-line reason).
        writer.abandon(f"Stopped before the end: {type(exc).__name__}.", [p.record() for p in unit.parts])
        raise
    for item in committed:
        for warning in item.warnings:
            logger.warning("cost import #%s: %s", item.pk, warning)
    outcome.imports.extend(committed)
