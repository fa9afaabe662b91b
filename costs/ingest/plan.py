"""Planning a cost import: which months to read, and which files (or Cost Explorer answers) of a
source make up each import unit. ``costs.services.imports.cost_import_run`` plans with these, then
writes each unit through :mod:`costs.ingest.writer`."""

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from costs.choices import ImportFormatChoices
from costs.ingest import batch, columnar, cost_explorer, cur, readers
from costs.ingest.errors import CostImportError
from costs.models import CostImport, CostSource, cost_import_root
from portal import uploads
from portal.dates import month_start, next_month, previous_month

# AWS may restate a closed month during the first two weeks after it ends (Data Exports docs).
RESTATEMENT_WINDOW_DAYS = 15
UPLOAD_DIRECTORY = "cost-uploads"

Progress = Callable[[float, str], None]


@dataclass
class Part:
    """One file (or the Cost Explorer answer) of an import unit."""

    name: str
    batches: Callable[[], Iterator[pa.RecordBatch]]  # the rows as NORMALIZED batches
    fraction: Callable[[], float]
    record: Callable[[], dict]
    address: dict | None = None  # how a worker opens the file again; None: only this process can


def _row_batches(rows: Iterator[tuple[object, dict]]) -> Iterator[pa.RecordBatch]:
    """Rows of a row parser (Cost Explorer's answer) as NORMALIZED batches."""
    pending = []
    for item in rows:
        pending.append(item)
        if len(pending) >= batch.batch_rows():
            yield batch.from_rows(pending)
            pending = []
    if pending:
        yield batch.from_rows(pending)


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


def periods_to_pull(source: CostSource, *, today: date | None = None) -> list[date]:
    """The months a scheduled run reads: this month, last month while AWS may still restate it,
    and (Cost Explorer) any month whose current import holds estimates."""
    today = today or datetime.now(UTC).date()
    months = {month_start(today)}
    if today.day <= RESTATEMENT_WINDOW_DAYS:
        months.add(previous_month(today))
    months.update(
        CostImport.objects.filter(source=source, is_current=True, is_estimated=True).values_list(
            "billing_period_start", flat=True
        )
    )
    return sorted(months)


#
# Planning: what to read
#


def _file_part(input_file: readers.InputFile, fmt: str) -> Part:
    """One file, read column-wise (costs.ingest.columnar) in the given format's layout."""
    return Part(
        name=input_file.name,
        batches=lambda: columnar.file_batches(input_file, fmt),
        fraction=lambda: input_file.progress,
        record=input_file.as_record,
        address={**input_file.address, "format": fmt},
    )


def reopen(source: CostSource, address: dict) -> Part:
    """The part a file job reads: the same file, opened again from its address (a path below the
    import root, checked again, or an S3 object through the source's settings)."""
    if "bucket" in address:
        input_file = readers.s3_object(
            _client(source, "s3"), address["bucket"], address["key"], address["kind"]
        )
    else:
        input_file = readers.local_file(Path(address["path"]), address["kind"], roots=local_roots())
    return _file_part(input_file, address["format"])


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


def plan_focus(source: CostSource, location: str) -> list[ImportUnit]:
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
                parts=[_file_part(f, ImportFormatChoices.FOCUS) for f in files],
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
            parts=[_file_part(f, ImportFormatChoices.FOCUS) for f in files],
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
            folder = f"{month:%Y%m%d}-{next_month(month):%Y%m%d}"
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


def plan_cur(
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
                parts=[_file_part(f, fmt) for f in files],
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


def plan_cost_explorer(
    source: CostSource, periods: list[date] | None, progress: Progress | None
) -> list[ImportUnit]:
    client = _client(source, "ce")
    units = []
    today = cost_explorer.today_utc()
    for month in periods or periods_to_pull(source):
        end = next_month(month)
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
                        batches=lambda answer_rows=answer_rows: _row_batches(answer_rows()),
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


def upload_directory() -> Path:
    return uploads.upload_directory(UPLOAD_DIRECTORY)
