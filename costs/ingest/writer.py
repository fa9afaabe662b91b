"""Writing a cost import: a delivery's files, each loaded on its own, then the delivery's
periods swapped in atomically (see costs.services.imports).

A delivery (one manifest, folder, upload or Cost Explorer answer) is a :class:`CostLoad` with
one :class:`CostLoadFile` per file. :func:`load_file` reads one file as
:data:`costs.ingest.batch.NORMALIZED` Arrow batches; per batch it checks what needs more than
one row (the period a manifest names, one currency per billing account), maps the repeating
values to dimension ids (:class:`costs.ingest.dimensions.DimensionMapper`), adds the batch's
exact decimal totals per period and currency, and appends the narrow rows to the load table of
the period's import (:mod:`costs.ingest.store`); nothing of this loops over rows in Python.
What only the whole delivery can tell is kept on the file's row. When every file has loaded,
:func:`finish_load` checks across files, sums, and swaps every period in one transaction.

Files load one after the other in the calling process, or (with real workers and several
files) as jobs of their own on as many workers as are running: :func:`import_unit` decides, the
job ``costs.load_cost_file`` runs :func:`load_file` and the file that loads last finishes.
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

from costs.choices import CostImportStatusChoices, ImportFormatChoices, LoadFileStatusChoices
from costs.ingest import store
from costs.ingest.dimensions import DimensionMapper
from costs.ingest.errors import CostImportError
from costs.ingest.normalize import money_text
from costs.ingest.plan import ImportUnit, Part, Progress
from costs.models import CostImport, CostLoad, CostLoadFile, CostSource
from portal import audit, jobs
from portal.choices import AuditActionChoices, ChannelChoices
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
    queued: list[str] = field(default_factory=list)  # deliveries whose files load as jobs of their own

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
            "queued": self.queued,
        }


class LoadStopped(Exception):
    """Another file of the delivery failed (or the delivery was taken for abandoned): stop."""


def _decimal(value) -> Decimal:
    return Decimal(0) if value is None else value


def _money_totals(totals: dict) -> dict:
    return {currency: {name: Decimal(value) if name != "rows" else value for name, value in entry.items()}
            for currency, entry in totals.items()}  # fmt: skip


def import_of_period(load: CostLoad, period: date, period_end: date | None, *, worker: str) -> CostImport:
    """The delivery's import of ``period``, created (with its load table) by the first file that
    meets the period: files loading in parallel share it, under the delivery's lock."""
    with transaction.atomic():
        load = CostLoad.objects.select_for_update().get(pk=load.pk)
        if load.status != CostImportStatusChoices.RUNNING:
            raise LoadStopped(load.error_message)
        cost_import = CostImport.objects.filter(load=load, billing_period_start=period).first()
        if cost_import is None:
            cost_import = CostImport.objects.create(
                source_id=load.source_id,
                load=load,
                format=load.format,
                billing_period_start=period,
                billing_period_end=period_end or load.period_end or next_month(period),
                identifier=load.identifier,
                location=load.location[:1000],
                status=CostImportStatusChoices.RUNNING,
                job_run=load.job_run,
                started_by=load.started_by[:200],
                is_estimated=load.is_estimated,
                worker=worker[:300],
                heartbeat_at=timezone.now(),
            )
            store.prepare(cost_import.pk)
    return cost_import


class FileWriter:
    """Loads one file of a delivery into the load tables of the periods it holds."""

    def __init__(self, load: CostLoad, load_file: CostLoadFile):
        self.load = load
        self.file = load_file
        self.imports: dict[date, CostImport] = {}
        self.totals: dict[date, dict[str, dict]] = defaultdict(dict)
        self.rows = 0
        # (period, billing account) → (currency, row): the first currency met in this file
        self.account_currency: dict[tuple[date, str], tuple[str, int]] = {}
        # (period, normalised key, kept raw key, dropped raw key) → [line items, first row]
        self.tag_collisions: dict[tuple, list] = {}
        self.mapper = DimensionMapper()
        self.period_rows: dict[date, int] = defaultdict(int)  # rows of this file per period so far
        self.worker = worker_identity()
        self.last_beat = time.monotonic()

    def _import_for(self, period: date, period_end: date | None) -> CostImport:
        if period not in self.imports:
            self.imports[period] = import_of_period(self.load, period, period_end, worker=self.worker)
        return self.imports[period]

    def _check(self, batch: pa.RecordBatch) -> None:
        """The checks that need more than one row; the earliest offending row is reported."""
        file = self.file.name
        problems: list[tuple[int, CostImportError]] = []
        rows = batch.column("row")
        periods = batch.column("billing_period_start")
        if self.load.period_start:
            wrong = pc.not_equal(periods, pa.scalar(self.load.period_start, pa.date32()))
            if pc.any(wrong).as_py():
                index = pc.index(wrong, True).as_py()
                problems.append((rows[index].as_py(), CostImportError(
                    f"the row belongs to the billing period starting {periods[index].as_py()}, but the "
                    f"manifest is for the period starting {self.load.period_start}.",
                    file=file, row=rows[index].as_py(), column=PERIOD_COLUMN[self.load.format],
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
            seen = self.account_currency.setdefault(key, (first["currency"], first["row_min"]))
            if seen[0] != first["currency"]:
                problems.append((first["row_min"], currency_mix(
                    first["currency"], seen[0], first["account"], (file, seen[1]), (file, first["row_min"]),
                    self.load.format,
                )))  # fmt: skip
                break
        if problems:
            raise min(problems, key=lambda problem: problem[0])[1]

    def add_batch(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self._check(batch)
        mapped = self.mapper.map(batch)
        periods = batch.column("billing_period_start")
        distinct = pc.unique(periods).to_pylist()
        for period in distinct:
            selected = pc.equal(periods, pa.scalar(period, pa.date32()))
            if period not in self.imports:
                self._import_for(
                    period, batch.column("billing_period_end")[pc.index(selected, True).as_py()].as_py()
                )
            if len(distinct) == 1:
                self._write(period, batch, mapped, None)
            else:
                self._write(period, batch.filter(selected), mapped, selected.to_numpy(zero_copy_only=False))
        for seen in mapped.tag_collisions.values():
            self._count_collisions(batch, seen)
        self.rows += batch.num_rows

    def _write(self, period: date, part: pa.RecordBatch, mapped, mask) -> None:
        cost_import = self.imports[period]
        count = part.num_rows
        first_row = self.period_rows[period]
        self.period_rows[period] += count

        def pick(values: np.ndarray) -> np.ndarray:
            return values if mask is None else values[mask]

        narrow = pa.table(
            {
                "id": store.line_item_ids(cost_import.pk, self.file.position, first_row, count),
                "cost_import_id": np.full(count, cost_import.pk, dtype=np.int64),
                "source_id": np.full(count, self.load.source_id, dtype=np.int64),
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

    def _count_collisions(self, batch: pa.RecordBatch, seen) -> None:
        """Tag keys that normalise alike, per (period, keys): rows counted, the first row kept."""
        index = pc.index(batch.column("row"), seen.first_row).as_py()
        period = batch.column("billing_period_start")[index].as_py()
        for collision in seen.collisions:
            key = (period, *collision)
            if len(self.tag_collisions) >= MAX_TAG_COLLISION_WARNINGS and key not in self.tag_collisions:
                continue
            entry = self.tag_collisions.setdefault(key, [0, seen.first_row])
            entry[0] += seen.rows

    def beat(self, fraction: float) -> None:
        """Say the file's imports are alive and how far it got, at most every HEARTBEAT_SECONDS;
        stop when the delivery failed meanwhile (another file, or taken for abandoned)."""
        now = time.monotonic()
        if now - self.last_beat < HEARTBEAT_SECONDS:
            return
        self.last_beat = now
        CostLoadFile.objects.filter(pk=self.file.pk).update(rows=self.rows, progress=fraction)
        if self.imports:
            CostImport.objects.filter(pk__in=[i.pk for i in self.imports.values()]).update(
                heartbeat_at=timezone.now()
            )
        stopped = CostLoad.objects.filter(pk=self.load.pk).exclude(status=CostImportStatusChoices.RUNNING)
        if (
            stopped.exists()
            or CostImport.objects.filter(load=self.load, status=CostImportStatusChoices.FAILED).exists()
        ):
            raise LoadStopped("another file of the delivery failed, or it was taken for abandoned")

    def results(self) -> dict:
        """What finish_load needs from this file, as JSON."""
        return {
            "rows": self.rows,
            "totals": {
                f"{period:%Y-%m-%d}": _totals_json(totals) for period, totals in sorted(self.totals.items())
            },
            "account_currencies": {
                f"{period:%Y-%m-%d}|{account}": [currency, row]
                for (period, account), (currency, row) in self.account_currency.items()
            },
            "tag_collisions": [
                [f"{period:%Y-%m-%d}", normal, kept, dropped, count, row]
                for (period, normal, kept, dropped), (count, row) in self.tag_collisions.items()
            ],
        }


def currency_mix(
    currency: str, first: str, account: str, first_at: tuple, here: tuple, fmt: str
) -> CostImportError:
    return CostImportError(
        f"currency {currency} differs from {first} used by billing account {account or '(none)'} "
        f"(first seen in {first_at[0]}, row {first_at[1]}); a billing account is invoiced in one "
        "currency, so the export mixes currencies and cannot be reconciled.",
        file=here[0],
        row=here[1],
        column=CURRENCY_COLUMN[fmt],
    )


def load_file(load_file: CostLoadFile, part: Part, *, progress: Progress | None = None) -> None:
    """Load one file of a delivery; record what it found on its row. Raises CostImportError for
    bad input (the caller fails the delivery) and LoadStopped when another file failed first."""
    load = load_file.load
    CostLoadFile.objects.filter(pk=load_file.pk).update(
        status=LoadFileStatusChoices.RUNNING, started_at=timezone.now()
    )
    writer = FileWriter(load, load_file)
    for batch in part.batches():
        writer.add_batch(batch)
        writer.beat(part.fraction())
        if progress:
            progress(100 * part.fraction(), f"{Path(part.name).name}: {writer.rows:,} line items written")
    results = writer.results()
    CostLoadFile.objects.filter(pk=load_file.pk).update(
        status=LoadFileStatusChoices.LOADED,
        record=part.record(),
        progress=1.0,
        finished_at=timezone.now(),
        **results,
    )


def _merged(load: CostLoad, files: list[CostLoadFile]):
    """Totals per period, the cross-file currency check and the tag-key warnings of a delivery
    whose files have all loaded (in file order, so "first seen" is the first file's)."""
    totals: dict[date, dict[str, dict]] = defaultdict(dict)
    seen: dict[str, tuple[str, str, int]] = {}
    collisions: dict[tuple, list] = {}
    for item in files:
        for period_text, per_currency in item.totals.items():
            period = date.fromisoformat(period_text)
            for currency, values in _money_totals(per_currency).items():
                entry = totals[period].setdefault(
                    currency, {"billed": Decimal(0), "effective": Decimal(0), "list": Decimal(0), "rows": 0}
                )
                for name in entry:
                    entry[name] += values[name]
        for key, (currency, row) in item.account_currencies.items():
            first = seen.setdefault(key, (currency, item.name, row))
            if first[0] != currency:
                raise currency_mix(currency, first[0], key.split("|", 1)[1], (first[1], first[2]),
                                   (item.name, row), load.format)  # fmt: skip
        for period_text, normal, kept, dropped, count, row in item.tag_collisions:
            key = (date.fromisoformat(period_text), normal, kept, dropped)
            if len(collisions) >= MAX_TAG_COLLISION_WARNINGS and key not in collisions:
                continue
            entry = collisions.setdefault(key, [0, item.name, row])
            entry[0] += count
    return totals, collisions


def _warnings(collisions: dict[tuple, list], period: date) -> list[str]:
    found = []
    for (at, normal, kept, dropped), (count, file, where) in collisions.items():
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
    if len(collisions) >= MAX_TAG_COLLISION_WARNINGS:
        found.append(f"More tag keys collide; only the first {MAX_TAG_COLLISION_WARNINGS} are listed.")
    return found


def finish_load(load: CostLoad) -> tuple[list[CostImport], CostImport | None]:
    """Every file has loaded: check across files, then make each period of the delivery current
    in one transaction. Returns (imports made current, the "empty" import of a delivery without
    a single row and without a known period)."""
    files = list(load.files.order_by("position"))
    records = [item.record or {"name": item.name} for item in files]
    totals, collisions = _merged(load, files)
    imports = {item.billing_period_start: item for item in CostImport.objects.filter(load=load)}
    if not imports and not load.period_start:
        names = ", ".join(record["name"] for record in records) or load.location
        empty = CostImport.objects.create(
            source_id=load.source_id, load=load, format=load.format, identifier=load.identifier,
            location=load.location[:1000], status=CostImportStatusChoices.EMPTY, files=records,
            warnings=[f"No line items: {names} holds a header but no rows. Nothing was imported; "
                      "the current data of every period stays as it was."],
            job_run=load.job_run, started_by=load.started_by[:200], finished_at=timezone.now(),
        )  # fmt: skip
        CostLoad.objects.filter(pk=load.pk).update(
            status=CostImportStatusChoices.EMPTY, finished_at=timezone.now()
        )
        return [], empty
    if not imports:
        # A manifest that lists no rows (nothing billed yet) still states the period.
        imports = {
            load.period_start: import_of_period(
                load, load.period_start, load.period_end, worker=worker_identity()
            )
        }
    for cost_import in imports.values():
        store.finish(cost_import.pk)
    source = load.source
    committed = []
    with transaction.atomic():
        # One swap at a time per source, so two runs cannot both make their import current.
        CostSource.objects.select_for_update().filter(pk=source.pk).first()
        stopped = (
            CostImport.objects.filter(pk__in=[i.pk for i in imports.values()])
            .exclude(status=CostImportStatusChoices.RUNNING)
            .first()
        )
        if stopped is not None:
            # Taken for abandoned meanwhile (its heartbeat went stale): what it wrote is gone.
            raise CostImportError(f"was stopped meanwhile: {stopped.error_message}", file=load.location)
        for period, cost_import in sorted(imports.items()):
            previous = (
                CostImport.objects.select_for_update()
                .filter(source=source, billing_period_start=period, is_current=True)
                .first()
            )
            store.swap(cost_import.pk, previous.pk if previous else None)
            if previous is not None:
                previous.is_current = False
                previous.status = CostImportStatusChoices.SUPERSEDED
                previous.save(update_fields=["is_current", "status"])
            period_totals = totals.get(period, {})
            cost_import.replaced = previous
            cost_import.is_current = True
            cost_import.status = CostImportStatusChoices.SUCCEEDED
            cost_import.row_count = sum(values["rows"] for values in period_totals.values())
            cost_import.totals = _totals_json(period_totals)
            cost_import.files = records
            cost_import.finished_at = timezone.now()
            cost_import.warnings = _warnings(collisions, period)
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
                    f"from {source.name}" + (f", replacing import #{previous.pk}" if previous else "") + "."
                ),
                extra={
                    "source": source.name,
                    "format": load.format,
                    "identifier": load.identifier,
                    "location": load.location,
                    "files": records,
                    "rows": cost_import.row_count,
                    "totals": cost_import.totals,
                    "replaced_import": previous.pk if previous else None,
                    "warnings": cost_import.warnings,
                },
            )
            committed.append(cost_import)
        CostLoad.objects.filter(pk=load.pk).update(
            status=CostImportStatusChoices.SUCCEEDED, finished_at=timezone.now()
        )
    return committed, None


def abandon_load(load: CostLoad, message: str) -> list[CostImport]:
    """Fail the delivery: drop what its files wrote, mark its imports failed with ``message``
    and stop the files still waiting or loading. The current import of every period stays."""
    with transaction.atomic():
        CostLoad.objects.select_for_update().filter(pk=load.pk).update(
            status=CostImportStatusChoices.FAILED, error_message=message, finished_at=timezone.now()
        )
        load.files.filter(status__in=[LoadFileStatusChoices.PENDING, LoadFileStatusChoices.RUNNING]).update(
            status=LoadFileStatusChoices.STOPPED
        )
    imports = list(CostImport.objects.filter(load=load))
    for cost_import in imports:
        store.discard(cost_import.pk)
    records = [item.record or {"name": item.name} for item in load.files.order_by("position")]
    if not imports:
        # Nothing was written yet: the attempt is still recorded, on the source's page too.
        imports = [CostImport(
            source_id=load.source_id, load=load, format=load.format, billing_period_start=load.period_start,
            billing_period_end=load.period_end, identifier=load.identifier, location=load.location[:1000],
            job_run=load.job_run, started_by=load.started_by[:200],
        )]  # fmt: skip
    for cost_import in imports:
        cost_import.status = CostImportStatusChoices.FAILED
        cost_import.is_current = False
        cost_import.error_message = message
        cost_import.row_count = 0
        cost_import.totals = {}
        cost_import.files = records
        cost_import.finished_at = timezone.now()
        cost_import.save()
    return imports


def file_loaded_last(load_file: CostLoadFile) -> bool:
    """Whether every file of the delivery has now loaded and this caller is the one to finish it
    (decided under the delivery's lock, so exactly one file job finishes)."""
    with transaction.atomic():
        load = CostLoad.objects.select_for_update().get(pk=load_file.load_id)
        if load.status != CostImportStatusChoices.RUNNING:
            return False
        if load.finishing_since or load.files.exclude(status=LoadFileStatusChoices.LOADED).exists():
            return False
        CostLoad.objects.filter(pk=load.pk).update(finishing_since=timezone.now())
        return True


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


def runs_files_in_parallel(unit: ImportUnit) -> bool:
    """Several files that other processes can open, and workers to run them: one job per file."""
    return len(unit.parts) > 1 and all(part.address for part in unit.parts) and not jobs.runs_in_process()


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
    load = CostLoad.objects.create(
        source=source, format=unit.format, location=unit.location[:1000], identifier=unit.identifier,
        period_start=unit.period_start, period_end=unit.period_end, is_estimated=unit.estimated,
        job_run=job_run, started_by=started_by[:200],
    )  # fmt: skip
    files = [
        CostLoadFile.objects.create(
            load=load, position=index, name=part.name[:1000], address=part.address or {}
        )
        for index, part in enumerate(unit.parts)
    ]
    if runs_files_in_parallel(unit):
        for item in files:
            run = jobs.enqueue(
                "costs.load_cost_file",
                actor_label=started_by[:150],
                channel=ChannelChoices.JOB,
                file_id=item.pk,
            )
            CostLoadFile.objects.filter(pk=item.pk).update(job_run=run)
        outcome.queued.append(
            f"{unit.location}: {len(files)} files load as jobs of their own; the period(s) become current "
            "when the last one has loaded"
        )
        return
    total_parts = max(len(unit.parts), 1)
    part_name = unit.location
    try:
        for index, (item, part) in enumerate(zip(files, unit.parts, strict=True)):
            part_name = part.name

            def scaled(percent: float, message: str, index=index) -> None:
                progress(100 * (index + percent / 100) / total_parts, message)

            load_file(item, part, progress=scaled if progress else None)
        committed, empty = finish_load(load)
    except CostImportError as exc:
        abandon_load(load, str(exc.located(file=part_name)))
        raise
    except BaseException as exc:
        # Cancellation or a crash: nothing of this import may stay behind (the worker log has
        # the traceback; the import keeps a one-line reason).
        abandon_load(load, f"Stopped before the end: {type(exc).__name__}.")
        raise
    if empty is not None:
        outcome.empty.append(empty)
        logger.warning("cost import #%s: %s", empty.pk, empty.warnings[0])
        return
    for item in committed:
        for warning in item.warnings:
            logger.warning("cost import #%s: %s", item.pk, warning)
    outcome.imports.extend(committed)
