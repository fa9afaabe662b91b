"""Jobs of the inventory: a use-case import too large for a web request (checked, then written).

The page stores the upload under ``DATA_DIR/usecase-imports/`` and starts the check; the person
reads the preview on the import page and confirms, which starts the import of the same file.
Both read it with the full limits of :mod:`inventory.services.importing` (bytes, rows, cells).
"""

import contextlib
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from inventory.services.importing import ImportFileError, commit_import, parse_upload, validate_rows
from portal import uploads
from portal.jobs import JobContext, JobInputError, job
from portal.models import JobLogLevel

UPLOAD_DIRECTORY = "usecase-imports"


def upload_directory() -> Path:
    return uploads.upload_directory(UPLOAD_DIRECTORY)


STALE_AFTER = timedelta(days=2)


def store_upload(uploaded_file, *, user) -> Path:
    """Keep an uploaded spreadsheet on disk for the import jobs.

    The import removes its file; a check nobody confirmed leaves one, removed here once stale.
    """
    directory = upload_directory()
    directory.mkdir(parents=True, exist_ok=True)
    cutoff = (timezone.now() - STALE_AFTER).timestamp()
    for old in directory.iterdir():
        with contextlib.suppress(OSError):
            if old.is_file() and old.stat().st_mtime < cutoff:
                old.unlink()
    return uploads.store_upload(uploaded_file, directory=directory, owner=user.pk)


def is_stored_upload(location: str) -> bool:
    return uploads.is_stored_upload(location, directory=upload_directory())


def _read(run: JobContext, path: str, filename: str):
    if not is_stored_upload(path) or not Path(path).is_file():
        raise JobInputError(f"The uploaded {filename} is no longer here; upload it again.")
    run.progress(5, f"Reading {filename}")
    try:
        with Path(path).open("rb") as stored:
            sheet = parse_upload(stored, filename)
    except ImportFileError as exc:
        raise JobInputError(str(exc)) from None
    run.log(f"{filename}: {len(sheet.rows):,} rows, {sheet.cells_read:,} cells read.")
    run.progress(40, f"Checking {len(sheet.rows):,} rows")
    return sheet


def _keys(keys: list[str], shown: int = 50) -> str:
    if not keys:
        return "none"
    more = f" and {len(keys) - shown:,} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


@job(
    name="inventory.check_use_case_import",
    label="Check a use-case import",
    description="Read and check a large spreadsheet of use cases; the import page shows the preview.",
)
def check_use_case_import(run: JobContext, *, path: str, filename: str) -> dict:
    sheet = _read(run, path, filename)
    preview = validate_rows(sheet, user=run.run.actor)
    run.log(
        f"{len(preview.to_create):,} to create, {len(preview.to_update):,} to update, "
        f"{len(preview.unchanged):,} unchanged, {len(preview.errors):,} problem(s)."
    )
    return preview.summary()


@job(
    name="inventory.import_use_cases",
    label="Import use cases",
    description="Write a checked spreadsheet of use cases: every row, or none.",
    idempotent=False,
)
def import_use_cases(run: JobContext, *, path: str, filename: str) -> dict:
    try:
        sheet = _read(run, path, filename)
        preview = validate_rows(sheet, user=run.run.actor)
        run.progress(60, f"Writing {len(sheet.rows):,} rows in one transaction")
        result = commit_import(preview, user=run.run.actor)
    finally:
        if is_stored_upload(path):
            Path(path).unlink(missing_ok=True)
    if not result.ok:
        for message in result.error_messages()[:200]:
            run.log(message, JobLogLevel.ERROR)
        raise JobInputError(
            f"Nothing was imported: {len(result.errors):,} row problem(s), the first: {result.error_messages()[0]}"
        )
    run.log(f"Created {_keys(result.created)}; updated {_keys(result.updated)}.")
    return {
        "filename": filename,
        "created": len(result.created),
        "updated": len(result.updated),
        "unchanged": result.unchanged,
    }
