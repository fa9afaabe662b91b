"""Cost imports: read a source's export, write its line items, swap the period in atomically.

The rules (DESIGN.md §4.4, docs/costs.md):

* The unit of replacement is (source, billing period). A period has exactly one current
  import; a new manifest (or different file contents, or a revised Cost Explorer answer) for
  the period replaces it in one transaction, in which the old line items are deleted.
* The same manifest id / file digest / answer again changes nothing.
* Line items are written in bounded batches while the input streams in, under an import that
  is not current yet, so readers keep seeing the previous data. Any failure (bad input,
  cancellation, a crash) deletes what was written and marks the import failed with a message
  naming file, row and column; the previous import stays current.
"""

import hashlib
import json
import logging
import os
import re
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from costs.choices import CostImportStatusChoices, ImportFormatChoices
from costs.ingest import cost_explorer, cur, focus, readers
from costs.ingest.errors import CostImportError
from costs.ingest.normalize import money_text, normalized_tags_checked
from costs.models import CostImport, CostLineItem, CostSource, cost_import_root
from portal import audit, uploads
from portal.choices import AuditActionChoices

logger = logging.getLogger(__name__)

BATCH_SIZE = 5_000
# A running import writes its heartbeat this often; one silent for
# PROPYLON_COST_IMPORT_ABANDONED_MINUTES is taken as abandoned (cost_imports_reap_abandoned).
HEARTBEAT_SECONDS = 30
MAX_TAG_COLLISION_WARNINGS = 20
# AWS may restate a closed month during the first two weeks after it ends (Data Exports docs).
RESTATEMENT_WINDOW_DAYS = 15
MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024
UPLOAD_DIRECTORY = "cost-uploads"

Progress = Callable[[float, str], None]

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
class Part:
    """One file (or the Cost Explorer answer) of an import unit."""

    name: str
    rows: Callable[[], Iterator[tuple[object, dict]]]
    fraction: Callable[[], float]
    record: Callable[[], dict]


@dataclass
class ImportUnit:
    """What one import reads: the files of one manifest, one FOCUS delivery, or one month of
    Cost Explorer, and what identifies that content."""

    format: str
    location: str
    identifier: str
    parts: list[Part]
    period_start: date | None = None  # known up front for manifests and Cost Explorer
    period_end: date | None = None
    estimated: bool = False


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


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _previous_month(day: date) -> date:
    return _month_start(_month_start(day) - timedelta(days=1))


def periods_to_pull(source: CostSource, *, today: date | None = None) -> list[date]:
    """The months a scheduled run reads: this month, last month while AWS may still restate it,
    and (Cost Explorer) any month whose current import holds estimates."""
    today = today or datetime.now(UTC).date()
    months = {_month_start(today)}
    if today.day <= RESTATEMENT_WINDOW_DAYS:
        months.add(_previous_month(today))
    months.update(
        CostImport.objects.filter(source=source, is_current=True, is_estimated=True).values_list(
            "billing_period_start", flat=True
        )
    )
    return sorted(months)


#
# Planning: what to read
#


def _file_part(input_file: readers.InputFile, parser) -> Part:
    return Part(
        name=input_file.name,
        rows=lambda: parser(input_file),
        fraction=lambda: input_file.progress,
        record=input_file.as_record,
    )


def _fingerprint(files: list[readers.InputFile]) -> str:
    """What identifies a FOCUS delivery: the files' contents (local files are hashed first, in
    chunks) or their S3 ETags and sizes (an object with the same ETag has the same bytes)."""
    digest = hashlib.sha256()
    for input_file in files:
        if "etag" in input_file.extra:
            identity = f"{input_file.name}|{input_file.size}|{input_file.extra['etag']}"
        else:
            content = hashlib.sha256()
            with input_file.opener() as handle:
                for chunk in iter(lambda handle=handle: handle.read(readers.COPY_CHUNK_BYTES), b""):
                    content.update(chunk)
            identity = f"{Path(input_file.name).name}|{content.hexdigest()}"
        digest.update(identity.encode() + b"\n")
    return digest.hexdigest()


def _client(source: CostSource, service: str):
    from costs.ingest.aws import client_for

    try:
        return client_for(source, service)
    except Exception as exc:
        raise CostImportError(
            f"could not reach AWS with this source's settings ({readers._aws_reason(exc)}).", file=source.name
        ) from None


def _plan_focus(source: CostSource, location: str) -> list[ImportUnit]:
    if _is_manifest(location):
        # AWS Data Exports delivers its FOCUS tables like CUR 2.0: read exactly the manifest's
        # files, identified by its executionId (the billing period comes from the rows).
        client = _client(source, "s3") if location.startswith("s3://") else None
        data = readers.read_s3_bytes(client, location) if client else _read_local_manifest(location)
        manifest = cur.parse_manifest(data, location, cur2=True)
        files = [_manifest_file(client, manifest, key, location) for key in manifest.keys]
        return [
            ImportUnit(
                format=ImportFormatChoices.FOCUS,
                location=location,
                identifier=manifest.identifier,
                parts=[_file_part(f, focus.rows) for f in files],
            )
        ]
    if location.startswith("s3://"):
        files = readers.s3_files(_client(source, "s3"), location)
    else:
        files = readers.local_files(location, roots=local_roots())
    return [
        ImportUnit(
            format=ImportFormatChoices.FOCUS,
            location=location,
            identifier=_fingerprint(files),
            parts=[_file_part(f, focus.rows) for f in files],
        )
    ]


def manifest_locations(location: str, fmt: str, periods: list[date]) -> list[str]:
    """Where AWS writes each month's manifest under an export's prefix (``s3://bucket/prefix/name``):
    legacy ``<name>/yyyymmdd-yyyymmdd/<name>-Manifest.json``, CUR 2.0
    ``<name>/metadata/BILLING_PERIOD=yyyy-mm/<name>-Manifest.json``."""
    base = location.rstrip("/")
    name = base.rsplit("/", 1)[-1]
    found = []
    for month in periods:
        if fmt == ImportFormatChoices.CUR:
            folder = f"{month:%Y%m%d}-{_next_month(month):%Y%m%d}"
        else:
            folder = f"metadata/BILLING_PERIOD={month:%Y-%m}"
        found.append(f"{base}/{folder}/{name}-Manifest.json")
    return found


def local_roots() -> list[Path]:
    """Where an import may read local files: the configured import root, and the folder that
    keeps uploads until their import job has read them."""
    return [cost_import_root(), upload_directory()]


def _read_local_manifest(location: str) -> bytes:
    path = readers.confined(Path(location), local_roots(), location)
    if not path.is_file():
        raise CostImportError("does not exist.", file=location)
    return path.read_bytes()


def _is_manifest(location: str) -> bool:
    return location.lower().endswith("manifest.json")


def _plan_cur(
    source: CostSource, location: str, fmt: str, periods: list[date] | None
) -> tuple[list[ImportUnit], list[str]]:
    explicit = _is_manifest(location)
    addresses = (
        [location] if explicit else manifest_locations(location, fmt, periods or periods_to_pull(source))
    )
    client = _client(source, "s3") if location.startswith("s3://") else None
    units, skipped = [], []
    for address in addresses:
        if client is not None:
            try:
                data = readers.read_s3_bytes(client, address)
            except CostImportError:
                if explicit:
                    raise
                skipped.append(f"{address}: no manifest delivered yet")
                continue
        else:
            path = readers.confined(Path(address), local_roots(), address)
            if not path.is_file():
                if explicit:
                    raise CostImportError("does not exist.", file=address)
                skipped.append(f"{address}: no manifest delivered yet")
                continue
            data = path.read_bytes()
        manifest = cur.parse_manifest(data, address, cur2=fmt == ImportFormatChoices.CUR2)
        files = [_manifest_file(client, manifest, key, address) for key in manifest.keys]
        units.append(
            ImportUnit(
                format=fmt,
                location=address,
                identifier=manifest.identifier,
                parts=[_file_part(f, cur.rows) for f in files],
                period_start=manifest.period_start,
                period_end=manifest.period_end,
            )
        )
    return units, skipped


def _manifest_file(client, manifest: cur.Manifest, key: str, address: str) -> readers.InputFile:
    if client is not None:
        if key.startswith("s3://"):
            bucket, object_key = readers.parse_s3_uri(key)
        else:
            bucket = manifest.bucket or readers.parse_s3_uri(address)[0]
            object_key = key
        return readers.s3_object(client, bucket, object_key)
    # A local copy of the bucket (``aws s3 sync``): the key is relative to some folder above
    # the manifest; the manifest's own folder is the last resort.
    relative = re.sub(r"^s3://[^/]+/", "", key)
    roots = local_roots()
    manifest_path = readers.confined(Path(address), roots, address)
    real_roots = [root.expanduser().resolve() for root in roots]
    for folder in manifest_path.parents:
        if not any(folder == root or root in folder.parents for root in real_roots):
            break  # folders above the import root are not searched
        candidate = folder / relative
        if candidate.is_file():
            # Checked again: a key with ../ or a link must not lead out of the root either.
            return readers.local_file(candidate, roots=roots)
    candidate = manifest_path.parent / Path(relative).name
    if candidate.is_file():
        return readers.local_file(candidate, roots=roots)
    raise CostImportError(f"lists {key}, which is not there.", file=address, column=key)


def _plan_cost_explorer(
    source: CostSource, periods: list[date] | None, progress: Progress | None
) -> list[ImportUnit]:
    client = _client(source, "ce")
    units = []
    today = cost_explorer.today_utc()
    for month in periods or periods_to_pull(source):
        end = _next_month(month)
        # Cost Explorer answers up to today; a future end date is refused by AWS.
        asked_end = min(end, today + timedelta(days=1)) if month <= today else end
        if progress:
            progress(0, f"Asking Cost Explorer for {month:%Y-%m}")
        answer = cost_explorer.fetch(
            client, period_start=month, period_end=asked_end, tag_key=source.use_case_tag_key
        )
        total = max(answer.group_count, 1)
        counter = {"rows": 0}

        def answer_rows(answer=answer, month=month, end=end, counter=counter):
            for where, row in cost_explorer.rows(
                answer, period_start=month, period_end=end, tag_key=source.use_case_tag_key
            ):
                counter["rows"] += 1
                yield where, row

        units.append(
            ImportUnit(
                format=ImportFormatChoices.COST_EXPLORER,
                location=f"GetCostAndUsage {month:%Y-%m} by tag {source.use_case_tag_key} and service",
                identifier=answer.identifier,
                parts=[
                    Part(
                        name="Cost Explorer",
                        rows=answer_rows,
                        fraction=lambda counter=counter, total=total: counter["rows"] / total,
                        record=lambda answer=answer, counter=counter: {
                            "name": f"Cost Explorer ({len(answer.pages)} page(s))",
                            "sha256": answer.identifier,
                            "bytes": 0,
                            "rows": counter["rows"],
                        },
                    )
                ],
                period_start=month,
                period_end=end,
                estimated=answer.estimated,
            )
        )
    return units


#
# Writing
#


# The normalised row's fields (costs.ingest.normalize.LINE_ITEM_FIELDS less the period, which
# the writer sets) in the order the writer buffers them, after the import, source and period.
ROW_FIELDS = (
    "charge_period_start",
    "charge_period_end",
    "provider",
    "billing_account_id",
    "sub_account_id",
    "service_name",
    "service_category",
    "resource_id",
    "region",
    "sku_id",
    "charge_category",
    "charge_class",
    "provider_charge_type",
    "usage_quantity",
    "usage_unit",
    "billed_cost",
    "effective_cost",
    "list_cost",
    "billing_currency",
    "tags",
    "tags_normalized",
)
COPY_COLUMNS = ("cost_import_id", "source_id", "billing_period_start", *ROW_FIELDS)
_JSON_COLUMNS = frozenset(
    index for index, name in enumerate(COPY_COLUMNS) if name in ("tags", "tags_normalized")
)


def _copy_values(values: tuple) -> tuple:
    return tuple(json.dumps(value) if index in _JSON_COLUMNS else value for index, value in enumerate(values))


class _Writer:
    """Writes one unit's rows under not-yet-current imports (one per billing period met)."""

    def __init__(self, *, source: CostSource, unit: ImportUnit, job_run, started_by: str):
        self.source = source
        self.unit = unit
        self.job_run = job_run
        self.started_by = started_by
        self.imports: dict[date, CostImport] = {}
        self.pending: list[tuple] = []
        self.totals: dict[date, dict[str, dict]] = defaultdict(dict)
        self.rows: dict[date, int] = defaultdict(int)
        self.account_currency: dict[tuple[date, str], tuple[str, str, object]] = {}
        self.first_failed_period = unit.period_start
        # (period, normalised key, kept raw key, dropped raw key) → [line items, file, row]
        self.tag_collisions: dict[tuple, list] = {}
        self.worker = worker_identity()
        self.last_beat = time.monotonic()

    def _import_for(self, period: date, period_end: date | None) -> CostImport:
        cost_import = self.imports.get(period)
        if cost_import is None:
            cost_import = CostImport.objects.create(
                source=self.source,
                format=self.unit.format,
                billing_period_start=period,
                billing_period_end=period_end or self.unit.period_end or _next_month(period),
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
        return cost_import

    def add(self, row: dict, *, file: str, where: object) -> None:
        period = row.pop("billing_period_start")
        period_end = row.pop("billing_period_end")
        if self.unit.period_start and period != self.unit.period_start:
            raise CostImportError(
                f"the row belongs to the billing period starting {period}, but the manifest is for "
                f"the period starting {self.unit.period_start}.",
                file=file,
                row=where,
                column=PERIOD_COLUMN[self.unit.format],
            )
        currency = row["billing_currency"]
        account_key = (period, row["billing_account_id"])
        seen = self.account_currency.get(account_key)
        if seen is None:
            self.account_currency[account_key] = (currency, file, where)
        elif seen[0] != currency:
            account = row["billing_account_id"] or "(none)"
            raise CostImportError(
                f"currency {currency} differs from {seen[0]} used by billing account {account} "
                f"(first seen in {seen[1]}, row {seen[2]}); a billing account is invoiced in one "
                "currency, so the export mixes currencies and cannot be reconciled.",
                file=file,
                row=where,
                column=CURRENCY_COLUMN[self.unit.format],
            )
        cost_import = self._import_for(period, period_end)
        totals = self.totals[period].setdefault(
            currency, {"billed": Decimal(0), "effective": Decimal(0), "list": Decimal(0), "rows": 0}
        )
        totals["billed"] += row["billed_cost"]
        totals["effective"] += row["effective_cost"]
        totals["list"] += row["list_cost"] or 0
        totals["rows"] += 1
        self.rows[period] += 1
        row["tags_normalized"], collisions = normalized_tags_checked(row["tags"])
        for collision in collisions:
            if (
                len(self.tag_collisions) >= MAX_TAG_COLLISION_WARNINGS
                and (period, *collision) not in self.tag_collisions
            ):
                continue
            seen = self.tag_collisions.setdefault((period, *collision), [0, file, where])
            seen[0] += 1
        self.pending.append((cost_import.pk, self.source.pk, period, *(row[name] for name in ROW_FIELDS)))

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

    def flush(self) -> None:
        self.beat()
        if not self.pending:
            return
        # Line items are data, not governed records: no per-row audit (the import gets one
        # entry) and no model instances on PostgreSQL, where COPY writes a batch several times
        # faster than a multi-row INSERT (DESIGN.md §6: 10 million line items a month).
        connection = connections[router.db_for_write(CostLineItem)]
        if connection.vendor == "postgresql":
            columns = ", ".join(connection.ops.quote_name(name) for name in COPY_COLUMNS)
            table = connection.ops.quote_name(CostLineItem._meta.db_table)
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for values in self.pending:
                    copy.write_row(_copy_values(values))
        else:
            CostLineItem.objects.bulk_create(
                [CostLineItem(**dict(zip(COPY_COLUMNS, values, strict=True))) for values in self.pending],
                batch_size=BATCH_SIZE,
            )
        self.pending = []

    def abandon(self, message: str, files: list[dict]) -> list[CostImport]:
        self.pending = []
        failed = []
        with transaction.atomic():
            for cost_import in self.imports.values():
                CostLineItem.objects.filter(cost_import=cost_import).delete()
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
        self.flush()
        if not self.imports and self.unit.period_start:
            # A manifest that lists no rows (nothing billed yet) still states the period.
            self._import_for(self.unit.period_start, self.unit.period_end)
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
                if previous is not None:
                    CostLineItem.objects.filter(cost_import=previous).delete()
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


def _worker_is_gone(worker: str) -> bool:
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


def cost_imports_reap_abandoned() -> list[CostImport]:
    """Fail every import left "running" by a process that died without cleaning up (kill -9, out
    of memory, a lost machine) and delete its line items. Called when an import starts and by the
    nightly run. An import is abandoned when its process is gone from this host, or when it has
    not written a heartbeat for ``PROPYLON_COST_IMPORT_ABANDONED_MINUTES`` (any host)."""
    cutoff = timezone.now() - timedelta(minutes=settings.PROPYLON_COST_IMPORT_ABANDONED_MINUTES)
    reaped = []
    for item in CostImport.objects.filter(status=CostImportStatusChoices.RUNNING).order_by("pk"):
        last_sign = item.heartbeat_at or item.started_at
        if _worker_is_gone(item.worker):
            reason = f"the process that ran it ({item.worker.rsplit(':', 1)[0]}) is gone"
        elif last_sign < cutoff:
            reason = f"no sign of life since {last_sign:%Y-%m-%d %H:%M:%S} UTC"
        else:
            continue
        with transaction.atomic():
            locked = (
                CostImport.objects.select_for_update()
                .filter(pk=item.pk, status=CostImportStatusChoices.RUNNING)
                .first()
            )
            if locked is None:
                continue  # it finished meanwhile
            deleted, _ = CostLineItem.objects.filter(cost_import=locked).delete()
            locked.status = CostImportStatusChoices.FAILED
            locked.is_current = False
            locked.error_message = (
                f"Abandoned: {reason}; it stopped without finishing (killed, out of memory or a lost "
                f"machine). Its {deleted:,} line item(s) written so far were deleted; the previous "
                "import of the period, if any, stays current."
            )
            locked.row_count = 0
            locked.totals = {}
            locked.finished_at = timezone.now()
            locked.save()
        logger.warning("cost import #%s: %s", locked.pk, locked.error_message)
        reaped.append(locked)
    return reaped


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


def _import_unit(
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
    writer = _Writer(source=source, unit=unit, job_run=job_run, started_by=started_by)
    total_parts = max(len(unit.parts), 1)
    part_name = unit.location
    try:
        for index, part in enumerate(unit.parts):
            part_name = part.name
            for where, row in part.rows():
                writer.add(row, file=part.name, where=where)
                writer.beat()
                if len(writer.pending) >= BATCH_SIZE:
                    writer.flush()
                    if progress:
                        done = sum(writer.rows.values())
                        progress(
                            100 * (index + part.fraction()) / total_parts,
                            f"{Path(part.name).name}: {done:,} line items written",
                        )
            writer.flush()
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


def cost_import_run(
    *,
    source: CostSource,
    location: str | None = None,
    format: str | None = None,
    actor=None,
    job_run=None,
    periods: list[date] | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Import ``location`` (or the source's own) into ``source``; see the module docstring.

    Raises :class:`CostImportError` for bad input after recording the failed import.
    """
    fmt = format or source.import_format
    if fmt not in ImportFormatChoices.values():
        raise CostImportError(f"“{fmt}” is not a format (focus, cur, cur2, cost_explorer).")
    if fmt != source.import_format:
        raise CostImportError(
            f"{source.name} is a {source.get_kind_display()} source; its format is {source.import_format}, not {fmt}."
        )
    location = (location if location is not None else source.location).strip()
    if fmt != ImportFormatChoices.COST_EXPLORER and not location:
        raise CostImportError(f"{source.name} has no location: give a folder, a file or an s3:// address.")
    started_by = actor.get_username() if getattr(actor, "is_authenticated", False) else str(actor or "system")
    cost_imports_reap_abandoned()
    outcome = ImportOutcome()
    try:
        if fmt == ImportFormatChoices.FOCUS:
            units = _plan_focus(source, location)
        elif fmt in (ImportFormatChoices.CUR, ImportFormatChoices.CUR2):
            units, outcome.skipped = _plan_cur(source, location, fmt, periods)
        else:
            units = _plan_cost_explorer(source, periods, progress)
    except CostImportError as exc:
        # Nothing could be read: still leave a record of the attempt on the source's page.
        _record_failure(
            source=source,
            fmt=fmt,
            location=location,
            message=str(exc),
            job_run=job_run,
            started_by=started_by,
        )
        raise
    for number, unit in enumerate(units, start=1):
        if progress:
            progress(100 * (number - 1) / max(len(units), 1), f"Reading {unit.location}")

        def scaled(percent: float, message: str, number=number) -> None:
            progress(100 * (number - 1 + percent / 100) / len(units), message)

        _import_unit(
            source=source,
            unit=unit,
            job_run=job_run,
            started_by=started_by,
            progress=scaled if progress else None,
            outcome=outcome,
        )
    if outcome.imports:
        # New current data: its allocation is recomputed after commit (costs/allocation.py).
        from costs.allocation import request_allocation

        request_allocation(
            source=source,
            periods=[item.billing_period_start for item in outcome.imports],
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            channel=None,
        )
    return outcome


def _record_failure(*, source, fmt, location, message, job_run, started_by) -> CostImport:
    return CostImport.objects.create(
        source=source,
        format=fmt,
        location=location[:1000],
        status=CostImportStatusChoices.FAILED,
        error_message=message,
        job_run=job_run,
        started_by=started_by[:200],
        finished_at=timezone.now(),
    )


#
# Uploads
#


def upload_directory() -> Path:
    return uploads.upload_directory(UPLOAD_DIRECTORY)


def cost_upload_store(*, source: CostSource, uploaded_file) -> Path:
    """Keep an uploaded FOCUS file on disk for the import job; refuse what cannot be FOCUS.

    Raises ``CostImportError`` with a message for the person (type, size, format).
    """
    name = Path(uploaded_file.name or "upload").name
    if source.import_format != ImportFormatChoices.FOCUS:
        raise CostImportError(f"{source.name} is not a FOCUS source; only FOCUS files can be uploaded.")
    if uploaded_file.size > MAX_UPLOAD_BYTES:
        raise CostImportError(
            f"is {uploaded_file.size:,} bytes; uploads are limited to {MAX_UPLOAD_BYTES:,} bytes. "
            "Put larger exports in a folder or S3 and set it as the source's location.",
            file=name,
        )
    if uploaded_file.size == 0:
        raise CostImportError("is empty.", file=name)
    head = next(uploaded_file.chunks(chunk_size=4096), b"")[:4096]
    kind = readers.sniff_upload(head, name)
    if kind is None:
        raise CostImportError(
            "is not a FOCUS export: upload a .csv (UTF-8), .csv.gz (gzip) or .parquet file.", file=name
        )
    return uploads.store_upload(uploaded_file, directory=upload_directory(), owner=source.pk)


def is_stored_upload(location: str) -> bool:
    return uploads.is_stored_upload(location, directory=upload_directory())


#
# Sources
#

SOURCE_FIELDS = (
    "name",
    "kind",
    "location",
    "enabled",
    "description",
    "aws_region",
    "endpoint_url",
    "role_arn",
    "external_id",
    "access_key_id",
    "use_case_tag_key",
)


def cost_source_create(*, secret_access_key: str = "", **fields) -> CostSource:
    source = CostSource(**{name: value for name, value in fields.items() if name in SOURCE_FIELDS})
    source.secret_access_key = secret_access_key or ""
    source.full_clean()
    source.save()
    return source


def cost_source_update(*, source: CostSource, secret_access_key: str | None = None, **fields) -> CostSource:
    """Change a source. ``secret_access_key=None`` keeps the stored secret (forms and the API
    never show it, so "not given" must not erase it); an empty string removes it."""
    with transaction.atomic():
        source = CostSource.objects.select_for_update().get(pk=source.pk)
        for name, value in fields.items():
            if name in SOURCE_FIELDS:
                setattr(source, name, value)
        if secret_access_key is not None:
            source.secret_access_key = secret_access_key
        source.full_clean()
        source.save()
    return source


#
# Allocation rules, shared pools, budgets and KPI readings (the engine: costs/allocation.py)
#
# Every change to a rule or pool queues a recomputation of every current period after commit:
# allocation is a pure function of the imports and the rules, so recomputing is always safe.
#

RULE_FIELDS = (
    "name",
    "position",
    "enabled",
    "kind",
    "source",
    "tag_key",
    "tag_value",
    "billing_account_id",
    "sub_account_id",
    "resource_pattern",
    "resource_pattern_kind",
    "service_name",
    "provider",
    "target_kind",
    "target_use_case",
    "target_team",
    "target_pool",
    "description",
)


def allocation_rule_save(*, rule=None, actor=None, **fields):
    """Create (``rule=None``) or change a rule; raises ValidationError naming the field."""
    from costs.allocation import request_allocation
    from costs.models import AllocationRule

    if "target_kind" not in fields:
        # The target given says what kind it is (API clients and tests may leave the kind out).
        for kind, name in (("team", "target_team"), ("pool", "target_pool"), ("use_case", "target_use_case")):
            if fields.get(name) is not None:
                fields["target_kind"] = kind
    with transaction.atomic():
        if rule is None:
            rule = AllocationRule()
        else:
            rule = AllocationRule.objects.select_for_update().get(pk=rule.pk)
        for name, value in fields.items():
            if name in RULE_FIELDS:
                setattr(rule, name, value.strip() if isinstance(value, str) else value)
        rule.updated_at = timezone.now()
        rule.full_clean()
        rule.save()
        request_allocation(actor=actor)
    return rule


def allocation_rule_delete(*, rule, actor=None) -> None:
    from costs.allocation import request_allocation

    with transaction.atomic():
        rule.delete()
        request_allocation(actor=actor)


def shared_pool_save(*, pool=None, actor=None, name: str, split_method: str, members: list[dict],
                     description: str = ""):  # fmt: skip
    """Create or change a pool and replace its members (``[{use_case|team, percentage}]``).

    Fixed splits need a percentage for every member, summing to exactly 100."""
    from django.core.exceptions import ValidationError

    from costs.allocation import request_allocation
    from costs.choices import SplitMethodChoices
    from costs.models import SharedPool, SharedPoolMember

    errors = []
    seen = set()
    for number, member in enumerate(members, start=1):
        use_case, team = member.get("use_case"), member.get("team")
        if bool(use_case) == bool(team):
            errors.append(f"Member {number}: choose a use case or a team (one of them).")
            continue
        identity = ("u", use_case.pk) if use_case else ("t", team.pk)
        if identity in seen:
            errors.append(f"Member {number}: {use_case or team} is listed twice.")
        seen.add(identity)
        percentage = member.get("percentage")
        if split_method == SplitMethodChoices.FIXED:
            if percentage is None:
                errors.append(f"Member {number}: a fixed split needs a percentage for {use_case or team}.")
            elif not (Decimal(0) < percentage <= Decimal(100)):
                errors.append(f"Member {number}: the percentage must be above 0 and at most 100.")
    if not members:
        errors.append("A pool needs at least one use case or team to split among.")
    if split_method == SplitMethodChoices.FIXED and not errors:
        total = sum((member["percentage"] for member in members), Decimal(0))
        if total != Decimal(100):
            errors.append(f"Fixed percentages must add up to 100; they add up to {total.normalize():f}.")
    if errors:
        raise ValidationError({"members": errors})
    with transaction.atomic():
        pool = SharedPool() if pool is None else SharedPool.objects.select_for_update().get(pk=pool.pk)
        pool.name, pool.split_method, pool.description = name.strip(), split_method, description
        pool.full_clean()
        pool.save()
        wanted = {
            (m["use_case"].pk if m.get("use_case") else None, m["team"].pk if m.get("team") else None): m
            for m in members
        }
        for existing in list(pool.members.all()):
            key = (existing.use_case_id, existing.team_id)
            if key not in wanted:
                existing.delete()
                continue
            member = wanted.pop(key)
            percentage = member.get("percentage") if split_method == SplitMethodChoices.FIXED else None
            if existing.percentage != percentage:
                existing.percentage = percentage
                existing.save()
        for (use_case_id, team_id), member in wanted.items():
            SharedPoolMember.objects.create(
                pool=pool,
                use_case_id=use_case_id,
                team_id=team_id,
                percentage=member.get("percentage") if split_method == SplitMethodChoices.FIXED else None,
            )
        request_allocation(actor=actor)
    return pool


def shared_pool_delete(*, pool, actor=None) -> None:
    from django.core.exceptions import ValidationError

    from costs.allocation import request_allocation

    rules = list(pool.rules.values_list("name", flat=True))
    if rules:
        raise ValidationError(
            {"pool": f"Rules send cost to this pool ({', '.join(rules)}); change or delete them first."}
        )
    with transaction.atomic():
        pool.delete()
        request_allocation(actor=actor)


BUDGET_FIELDS = ("use_case", "team", "amount", "currency", "thresholds", "notes")


def budget_save(*, budget=None, **fields):
    """Create or change a budget; then check its alerts for this month (idempotent)."""
    from costs.budgets import check_budget_alerts
    from costs.models import Budget

    with transaction.atomic():
        if budget is None:
            budget = Budget()
            if "thresholds" not in fields:
                from costs.choices import DEFAULT_BUDGET_THRESHOLDS

                fields["thresholds"] = list(DEFAULT_BUDGET_THRESHOLDS)
        else:
            budget = Budget.objects.select_for_update().get(pk=budget.pk)
        for name, value in fields.items():
            if name in BUDGET_FIELDS:
                setattr(budget, name, value)
        budget.full_clean()
        budget.save()
        check_budget_alerts(periods=[datetime.now(UTC).date().replace(day=1)])
    return budget


def budget_delete(*, budget) -> None:
    budget.delete()


def kpi_reading_record(*, kpi, period: date, value: Decimal, monetized_value: Decimal | None = None,
                       note: str = "", actor=None):  # fmt: skip
    """Record (or correct) what a KPI measured in a month; one reading per KPI and month."""
    from costs.models import KpiReading

    with transaction.atomic():
        reading = KpiReading.objects.select_for_update().filter(kpi=kpi, period=period).first()
        if reading is None:
            reading = KpiReading(kpi=kpi, period=period)
        reading.value = value
        reading.monetized_value = monetized_value
        reading.note = note
        reading.recorded_by = actor if getattr(actor, "is_authenticated", False) else None
        reading.recorded_at = timezone.now()
        reading.full_clean(validate_unique=False)
        reading.save()
    return reading


def kpi_reading_delete(*, reading) -> None:
    reading.delete()
