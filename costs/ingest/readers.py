"""Streaming readers: local files and S3 objects, as CSV, gzip-compressed CSV or Parquet.

Nothing here holds a whole file in memory. CSV (plain or gzip) is decoded as it is read from
the file or the S3 body; Parquet needs a seekable file, so an S3 object is first copied to a
temporary file on disk and then read one record batch at a time. Every reader hashes the bytes
it reads, so the import records each file's SHA-256.
"""

import codecs
import csv
import gzip
import hashlib
import io
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from costs.ingest.errors import CostImportError

CSV = "csv"
CSV_GZ = "csv.gz"
PARQUET = "parquet"
PARQUET_BATCH_ROWS = 5_000
COPY_CHUNK_BYTES = 1024 * 1024
# Tag JSON and CUR product maps can be long; the csv module's default limit is 128 KiB.
MAX_ROW_CHARS = 16 * 1024 * 1024
csv.field_size_limit(MAX_ROW_CHARS)


class RowTooLong(Exception):
    pass


class _BoundedLines:
    """Lines for ``csv.reader``, never more than ``limit`` characters per CSV row (a row may span
    lines inside quotes). ``readline`` alone would read a file without line breaks whole before
    the field limit applies: memory stays bounded by the limit whatever the input."""

    def __init__(self, text: io.TextIOBase, limit: int = MAX_ROW_CHARS):
        self.text = text
        self.limit = limit
        self.used = 0  # characters of the row being read; the caller resets it after each row

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.limit - self.used + 1)
        if not line:
            raise StopIteration
        self.used += len(line)
        if self.used > self.limit:
            raise RowTooLong
        return line


def file_kind(name: str) -> str | None:
    lowered = name.lower()
    if lowered.endswith((".csv.gz", ".csv.gzip")):
        return CSV_GZ
    if lowered.endswith(".csv"):
        return CSV
    if lowered.endswith(".parquet"):
        return PARQUET
    return None


def parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise CostImportError(f"“{uri}” is not an s3://bucket/key address.")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise CostImportError(f"“{uri}” names no bucket.")
    return bucket, key


class _HashingReader(io.RawIOBase):
    """Counts and hashes the bytes that pass through, whatever reads them."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        if not data:
            return 0
        size = len(data)
        buffer[:size] = data
        self.sha256.update(data)
        self.bytes_read += size
        return size

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()


@dataclass
class InputFile:
    """One file of an import: where it is, how to open it, what was read from it."""

    name: str  # how messages and the import record name it (path or s3:// address)
    kind: str
    size: int
    opener: Callable[[], BinaryIO]
    sha256: str = ""
    bytes_read: int = 0
    rows: int = 0
    progress: float = 0.0  # 0..1 of this file read so far
    extra: dict = field(default_factory=dict)
    # How another process opens the same file (costs.ingest.plan.reopen): {"path": …} or
    # {"bucket": …, "key": …}, with "kind".
    address: dict = field(default_factory=dict)

    def as_record(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "bytes": self.bytes_read, "rows": self.rows}


def confined(path: Path, roots: list[Path], shown: str | None = None) -> Path:
    """``path`` with symbolic links resolved, if it lies in one of ``roots``; else an error.

    Local imports read only below the configured import root (PROPYLON_COST_IMPORT_ROOT), so a
    source's location cannot make the server read any folder it can see; a link inside the
    root that leads outside it is refused like the place it leads to."""
    shown = shown or str(path)
    real = path.expanduser().resolve()
    real_roots = [root.expanduser().resolve() for root in roots]
    if any(real == root or root in real.parents for root in real_roots):
        return real
    allowed = " or ".join(str(root) for root in real_roots)
    literal = Path(os.path.abspath(path.expanduser()))
    if any(literal == root or root in literal.parents for root in real_roots):
        raise CostImportError(
            f"is a symbolic link to {real}, outside the cost import folder {allowed}; local billing "
            "files are read only below it.",
            file=shown,
        )
    raise CostImportError(
        f"is outside the cost import folder {allowed}; local billing files are read only below it "
        "(an administrator sets it with PROPYLON_COST_IMPORT_ROOT).",
        file=shown,
    )


def local_file(path: Path, kind: str | None = None, *, roots: list[Path]) -> InputFile:
    kind = kind or file_kind(path.name)
    if kind is None:
        raise CostImportError(
            "is neither .csv, .csv.gz nor .parquet; billing exports come in these formats.", file=str(path)
        )
    real = confined(path, roots)
    if not real.is_file():
        raise CostImportError("does not exist or is not a file.", file=str(path))
    # Opened by its resolved path: a link swapped after the check cannot lead elsewhere.
    return InputFile(
        name=str(path),
        kind=kind,
        size=real.stat().st_size,
        opener=lambda: real.open("rb"),
        address={"path": str(path), "kind": kind},
    )


def local_files(location: str, *, roots: list[Path]) -> list[InputFile]:
    """A file, or every billing file under a folder (sorted, so the order is stable), all below
    one of ``roots``."""
    path = Path(location).expanduser()
    confined(path, roots, location)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and file_kind(p.name))
        if not found:
            raise CostImportError("holds no .csv, .csv.gz or .parquet file.", file=str(path))
        return [local_file(p, roots=roots) for p in found]
    if not path.exists():
        raise CostImportError("does not exist.", file=str(path))
    return [local_file(path, roots=roots)]


def s3_object(client, bucket: str, key: str, kind: str | None = None) -> InputFile:
    name = f"s3://{bucket}/{key}"
    kind = kind or file_kind(key)
    if kind is None:
        raise CostImportError("is neither .csv, .csv.gz nor .parquet.", file=name)
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        raise CostImportError(f"cannot be read from S3 ({_aws_reason(exc)}).", file=name) from None

    def opener() -> BinaryIO:
        return client.get_object(Bucket=bucket, Key=key)["Body"]

    return InputFile(
        name=name,
        kind=kind,
        size=int(head.get("ContentLength") or 0),
        opener=opener,
        extra={"etag": head.get("ETag", "")},
        address={"bucket": bucket, "key": key, "kind": kind},
    )


def s3_files(client, uri: str) -> list[InputFile]:
    """Every billing file under an S3 prefix (FOCUS folders; CUR reads its manifest instead)."""
    bucket, prefix = parse_s3_uri(uri)
    keys = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []) if file_kind(item["Key"]))
    except Exception as exc:
        raise CostImportError(f"cannot be listed ({_aws_reason(exc)}).", file=uri) from None
    if not keys:
        raise CostImportError("holds no .csv, .csv.gz or .parquet object.", file=uri)
    return [s3_object(client, bucket, key) for key in sorted(keys)]


def read_s3_bytes(client, uri: str, *, limit: int = 16 * 1024 * 1024) -> bytes:
    """A small object (a manifest) in full."""
    bucket, key = parse_s3_uri(uri)
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        data = body.read(limit + 1)
    except Exception as exc:
        raise CostImportError(f"cannot be read from S3 ({_aws_reason(exc)}).", file=uri) from None
    if len(data) > limit:
        raise CostImportError(f"is larger than {limit} bytes; a manifest is a small JSON file.", file=uri)
    return data


def _aws_reason(exc: Exception) -> str:
    """A one-line reason without credentials or request signatures."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        return f"{code}: {message}".strip(": ") or type(exc).__name__
    return type(exc).__name__


#
# Records
#

Record = dict[str, Any]


def iter_records(input_file: InputFile) -> Iterator[tuple[int, list[str], Record]]:
    """Yield ``(row number, columns, record)`` for every data row, streaming.

    The first item is the header alone: ``(header row number, columns, None)``, so a file with
    a header and no rows is still checked. ``columns`` is the same list object every time. Failures of the container
    (a truncated gzip stream, bytes that are not UTF-8, a Parquet footer missing) raise
    :class:`CostImportError` naming the file and the row where reading stopped.
    """
    if input_file.kind == PARQUET:
        yield from _parquet_records(input_file)
    else:
        yield from _csv_records(input_file)


def _csv_records(input_file: InputFile) -> Iterator[tuple[int, list[str], Record]]:
    raw = _HashingReader(input_file.opener())
    # The last row read completely (the header is row 1); a failure is reported on the next.
    row_number = 0
    try:
        binary: BinaryIO = io.BufferedReader(raw, buffer_size=COPY_CHUNK_BYTES)
        if input_file.kind == CSV_GZ:
            binary = gzip.GzipFile(fileobj=binary, mode="rb")
        # utf-8-sig: Excel and Azure exports start with a byte-order mark.
        lines = _BoundedLines(io.TextIOWrapper(binary, encoding="utf-8-sig", newline=""))
        reader = csv.reader(lines)
        try:
            header = [column.strip() for column in next(reader)]
        except StopIteration:
            raise CostImportError("is empty: it has no header row.", file=input_file.name, row=1) from None
        lines.used = 0
        row_number = 1
        if len(set(header)) != len(header):
            duplicated = sorted({c for c in header if header.count(c) > 1})
            raise CostImportError(
                f"the header names {', '.join(duplicated)} more than once.", file=input_file.name, row=1
            )
        width = len(header)
        yield 1, header, None
        for cells in reader:
            lines.used = 0
            row_number += 1
            if not cells:
                continue  # a blank line is not a row
            if len(cells) != width:
                raise CostImportError(
                    f"has {len(cells)} cells but the header has {width} columns.",
                    file=input_file.name,
                    row=row_number,
                )
            input_file.rows += 1
            if input_file.size:
                input_file.progress = min(raw.bytes_read / input_file.size, 1.0)
            yield row_number, header, dict(zip(header, cells, strict=True))
        # Reading to the end also drains the gzip trailer, so a cut-off stream fails here.
    except RowTooLong:
        raise CostImportError(
            f"the line (or row) is longer than {MAX_ROW_CHARS:,} characters without ending: no billing "
            "row is that long, so the file is not a CSV export with line breaks (or it is damaged).",
            file=input_file.name,
            row=row_number + 1,
        ) from None
    except EOFError:
        raise CostImportError(
            "the gzip stream ends early: the file is truncated (an interrupted upload or copy).",
            file=input_file.name,
            row=row_number + 1,
        ) from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise CostImportError(
            f"is not a valid gzip file ({exc}).", file=input_file.name, row=row_number + 1
        ) from None
    except UnicodeDecodeError:
        raise CostImportError("is not UTF-8 text.", file=input_file.name, row=row_number + 1) from None
    except csv.Error as exc:
        raise CostImportError(
            f"is not valid CSV ({exc}).", file=input_file.name, row=row_number + 1
        ) from None
    finally:
        raw.close()
    input_file.sha256 = raw.sha256.hexdigest()
    input_file.bytes_read = raw.bytes_read
    input_file.progress = 1.0


def _parquet_records(input_file: InputFile) -> Iterator[tuple[int, list[str], Record]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with _seekable_copy(input_file) as (handle, sha256, size):
        try:
            parquet = pq.ParquetFile(handle)
        except (pa.ArrowException, OSError) as exc:
            raise CostImportError(f"is not a readable Parquet file ({exc}).", file=input_file.name) from None
        header = list(parquet.schema_arrow.names)
        total = parquet.metadata.num_rows or 1
        row_number = 0
        yield 0, header, None
        try:
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                for record in batch.to_pylist():
                    row_number += 1
                    input_file.rows += 1
                    yield row_number, header, record
                input_file.progress = min(row_number / total, 1.0)
        except (pa.ArrowException, OSError) as exc:
            raise CostImportError(
                f"cannot be read past this row ({exc}).", file=input_file.name, row=row_number + 1
            ) from None
        input_file.sha256 = sha256
        input_file.bytes_read = size
        input_file.progress = 1.0


class _seekable_copy:
    """A seekable handle on the file and its SHA-256: the file itself when it is local, a
    temporary copy on disk when it is an S3 body (copied in chunks, never held in memory)."""

    def __init__(self, input_file: InputFile):
        self.input_file = input_file
        self.temporary = None

    def __enter__(self):
        source = self.input_file.opener()
        digest = hashlib.sha256()
        size = 0
        if isinstance(source, io.BufferedReader | io.FileIO):
            for chunk in iter(lambda: source.read(COPY_CHUNK_BYTES), b""):
                digest.update(chunk)
                size += len(chunk)
            source.seek(0)
            self.handle = source
        else:
            self.temporary = tempfile.TemporaryFile(prefix="propylon-cost-")
            for chunk in iter(lambda: source.read(COPY_CHUNK_BYTES), b""):
                digest.update(chunk)
                size += len(chunk)
                self.temporary.write(chunk)
            source.close()
            self.temporary.seek(0)
            self.handle = self.temporary
        return self.handle, digest.hexdigest(), size

    def __exit__(self, *exc_info):
        self.handle.close()
        return False


def sniff_upload(head: bytes, name: str) -> str | None:
    """The kind of an uploaded file from its name *and* its first bytes, or None."""
    kind = file_kind(name)
    if kind == CSV_GZ:
        return kind if head[:2] == b"\x1f\x8b" else None
    if kind == PARQUET:
        return kind if head[:4] == b"PAR1" else None
    if kind == CSV:
        try:
            codecs.getincrementaldecoder("utf-8-sig")().decode(head)
        except UnicodeDecodeError:
            return None
        return kind
    return None
