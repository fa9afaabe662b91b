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

import logging
from datetime import date, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from costs.choices import CostImportStatusChoices, ImportFormatChoices
from costs.ingest import readers, store
from costs.ingest.errors import CostImportError
from costs.ingest.plan import Progress, plan_cost_explorer, plan_cur, plan_focus, upload_directory
from costs.ingest.writer import ImportOutcome, import_unit, worker_is_gone
from costs.models import CostImport, CostLoad, CostSource
from costs.services.allocation_engine import request_allocation
from portal import uploads

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024 * 1024


def cost_imports_reap_abandoned() -> list[CostImport]:
    """Fail every import left "running" by a process that died without cleaning up (kill -9, out
    of memory, a lost machine) and delete its line items. Called when an import starts and by the
    nightly run. An import is abandoned when its process is gone from this host, or when it has
    not written a heartbeat for ``PROPYLON_COST_IMPORT_ABANDONED_MINUTES`` (any host)."""
    cutoff = timezone.now() - timedelta(minutes=settings.PROPYLON_COST_IMPORT_ABANDONED_MINUTES)
    reaped = []
    for item in CostImport.objects.filter(status=CostImportStatusChoices.RUNNING).order_by("pk"):
        last_sign = item.heartbeat_at or item.started_at
        if worker_is_gone(item.worker):
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
            deleted = store.discard(locked.pk)
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
            if locked.load_id:
                # The other files of its delivery stop at their next heartbeat.
                CostLoad.objects.filter(pk=locked.load_id, status=CostImportStatusChoices.RUNNING).update(
                    status=CostImportStatusChoices.FAILED, error_message=locked.error_message,
                    finished_at=timezone.now(),
                )  # fmt: skip
        logger.warning("cost import #%s: %s", locked.pk, locked.error_message)
        reaped.append(locked)
    _drop_orphan_load_tables()
    return reaped


def _drop_orphan_load_tables() -> None:
    """PostgreSQL: a load table whose import is neither running nor current (its import row is
    gone, or it failed before it could drop its table) is dropped: one table, no row deletes."""
    orphans = store.load_table_import_ids() - set(
        CostImport.objects.filter(Q(status=CostImportStatusChoices.RUNNING) | Q(is_current=True)).values_list(
            "pk", flat=True
        )
    )
    for import_id in sorted(orphans):
        logger.warning(
            "dropping the load table of cost import #%s: it is neither running nor current", import_id
        )
        store.discard(import_id)


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
            units = plan_focus(source, location)
        elif fmt in (ImportFormatChoices.CUR, ImportFormatChoices.CUR2):
            units, outcome.skipped = plan_cur(source, location, fmt, periods)
        else:
            units = plan_cost_explorer(source, periods, progress)
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

        import_unit(
            source=source,
            unit=unit,
            job_run=job_run,
            started_by=started_by,
            progress=scaled if progress else None,
            outcome=outcome,
        )
    if outcome.imports:
        # New current data: its allocation is recomputed after commit (costs/services/allocation_engine.py).
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
