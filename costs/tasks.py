"""Jobs of the cost side: import one source (on demand, from a page, the API or an upload) and
the daily run over every enabled source (Celery beat, seeded by migration 0003)."""

from datetime import date
from pathlib import Path

from costs.choices import CostImportStatusChoices, ImportFormatChoices, LoadFileStatusChoices
from costs.ingest.errors import CostImportError
from costs.ingest.plan import reopen
from costs.ingest.writer import LoadStopped, abandon_load, file_loaded_last, finish_load, load_file
from costs.models import CostLoadFile, CostSource
from costs.services.allocation_engine import allocate, request_allocation
from costs.services.budgets import check_budget_alerts
from costs.services.imports import cost_import_run, cost_imports_reap_abandoned, is_stored_upload
from costs.templatetags.cost_import_tags import money
from portal.choices import ChannelChoices
from portal.jobs import JobContext, JobInputError, enqueue, job
from portal.models import JobLogLevel


@job(
    name="costs.import_cost_source",
    label="Import billing data",
    description="Read one cost source's export (or an uploaded file) and replace the periods it covers.",
)
def import_cost_source(
    run: JobContext,
    *,
    source_id: int,
    location: str | None = None,
    format: str | None = None,
    periods: list[str] | None = None,
    remove_after: bool = False,
) -> dict:
    source = CostSource.objects.filter(pk=source_id).first()
    if source is None:
        raise JobInputError(f"Cost source #{source_id} no longer exists.")
    try:
        months = [date.fromisoformat(p) for p in periods] if periods else None
    except ValueError:
        raise JobInputError(f"periods must be dates such as 2026-11-01 (got {periods!r}).") from None
    run.log(f"Importing {source.name} from {location or source.location or 'Cost Explorer'}.")
    try:
        outcome = cost_import_run(
            source=source,
            location=location,
            format=format,
            actor=run.run.actor or run.run.actor_label,
            job_run=run.run,
            periods=months,
            progress=run.progress,
        )
    except CostImportError as exc:
        # Bad input is the person's to fix: they read the message as written (file, row, column).
        raise JobInputError(str(exc)) from None
    finally:
        if remove_after and location and is_stored_upload(location):
            Path(location).unlink(missing_ok=True)
    for item in outcome.imports:
        totals = "; ".join(f"billed {money(v['billed'])} {c}" for c, v in item.totals.items())
        run.log(
            f"{item.billing_period_start:%Y-%m}: {item.row_count:,} line items, import #{item.pk}"
            + (f" ({totals})." if totals else ".")
        )
    for line in outcome.warnings:
        run.log(line, JobLogLevel.WARNING)
    for line in outcome.unchanged:
        run.log(f"Unchanged: {line}")
    for line in outcome.skipped:
        run.log(f"Skipped: {line}")
    for line in outcome.queued:
        run.log(f"Queued: {line}.")
    return outcome.as_dict()


@job(
    name="costs.load_cost_file",
    label="Load one billing file",
    description="Load one file of a delivery into its periods' load tables; the file that loads last "
    "makes the delivery current.",
)
def load_cost_file(run: JobContext, *, file_id: int) -> dict:
    item = CostLoadFile.objects.select_related("load__source").filter(pk=file_id).first()
    if item is None:
        raise JobInputError(f"Delivery file #{file_id} no longer exists.")
    load = item.load
    if load.status != CostImportStatusChoices.RUNNING:
        run.log(f"Not loaded: the delivery stopped before this file's turn ({load.error_message}).")
        CostLoadFile.objects.filter(pk=item.pk).update(status=LoadFileStatusChoices.STOPPED)
        return {"file": item.name, "loaded": False}
    run.log(f"Loading {item.name} (file {item.position + 1} of {load.files.count()} of {load.source.name}).")
    try:
        load_file(item, reopen(load.source, item.address), progress=run.progress)
    except LoadStopped as exc:
        CostLoadFile.objects.filter(pk=item.pk).update(status=LoadFileStatusChoices.STOPPED)
        run.log(f"Stopped: {exc}.", JobLogLevel.WARNING)
        return {"file": item.name, "loaded": False}
    except CostImportError as exc:
        message = str(exc.located(file=item.name))
        CostLoadFile.objects.filter(pk=item.pk).update(
            status=LoadFileStatusChoices.FAILED, error_message=message
        )
        abandon_load(load, message)
        raise JobInputError(message) from None
    except BaseException as exc:
        CostLoadFile.objects.filter(pk=item.pk).update(status=LoadFileStatusChoices.FAILED)
        abandon_load(load, f"Stopped before the end: {type(exc).__name__} while loading {item.name}.")
        raise
    item.refresh_from_db()
    run.log(f"{item.name}: {item.rows:,} line items loaded.")
    if not file_loaded_last(item):
        return {"file": item.name, "loaded": True, "rows": item.rows}
    run.log("Every file of the delivery has loaded: making its periods current.")
    try:
        committed, empty = finish_load(load)
    except CostImportError as exc:
        message = str(exc)
        abandon_load(load, message)
        raise JobInputError(message) from None
    except BaseException as exc:
        abandon_load(load, f"Stopped before the end: {type(exc).__name__}.")
        raise
    for cost_import in committed:
        run.log(f"{cost_import.billing_period_start:%Y-%m}: {cost_import.row_count:,} line items, "
                f"import #{cost_import.pk}.")  # fmt: skip
        for warning in cost_import.warnings:
            run.log(f"Import #{cost_import.pk}: {warning}", JobLogLevel.WARNING)
    if committed:
        request_allocation(source=load.source, periods=[i.billing_period_start for i in committed])
    return {
        "file": item.name,
        "loaded": True,
        "rows": item.rows,
        "imports": [cost_import.pk for cost_import in committed],
        "empty_imports": [empty.pk] if empty else [],
    }


@job(
    name="costs.import_all_sources",
    label="Import billing data of every source",
    description="Start an import for every enabled cost source that reads from a folder, S3 or Cost Explorer.",
    on_demand=True,
)
def import_all_sources(run: JobContext) -> dict:
    for item in cost_imports_reap_abandoned():
        run.log(f"Import #{item.pk} of {item.source.name}: {item.error_message}", JobLogLevel.WARNING)
    started = []
    for source in CostSource.objects.filter(enabled=True).order_by("name"):
        if source.import_format != ImportFormatChoices.COST_EXPLORER and not source.location:
            continue  # upload-only: nothing to fetch
        child = enqueue(
            import_cost_source,
            actor=run.run.actor,
            actor_label=run.run.actor_label or "schedule",
            channel=ChannelChoices.JOB,
            source_id=source.pk,
        )
        run.log(f"{source.name}: import job #{child.pk} queued.")
        started.append(child.pk)
    return {"jobs": started}


@job(
    name="costs.allocate_costs",
    label="Allocate costs",
    description="Recompute cost allocation (rules, shared pools, unallocated) of every current billing "
    "period, or of one source's periods, then check budgets.",
    on_demand=True,
    started_by=("admin", "coe-lead", "coe-reviewer"),
)
def allocate_costs(
    run: JobContext, *, source_id: int | None = None, periods: list[str] | None = None
) -> dict:

    source = None
    if source_id is not None:
        source = CostSource.objects.filter(pk=source_id).first()
        if source is None:
            raise JobInputError(f"Cost source #{source_id} no longer exists.")
    try:
        months = [date.fromisoformat(p) for p in periods] if periods else None
    except ValueError:
        raise JobInputError(f"periods must be dates such as 2026-11-01 (got {periods!r}).") from None
    results = allocate(source=source, periods=months, progress=run.progress, job_run=run.run)
    failed = [result for result in results if result.error]
    for result in results:
        if result.error:
            run.log(result.error, JobLogLevel.ERROR)
        else:
            run.log(f"Source #{result.source_id} {result.period:%Y-%m}: {result.rows} allocation row(s).")
    alerts = check_budget_alerts(periods=sorted({result.period for result in results if not result.error}))
    if alerts:
        run.log(f"{len(alerts)} budget alert(s) sent.")
    if failed:
        # The other periods are allocated and committed; the run still fails, so nobody reads
        # "succeeded" while a period keeps its old (or no) allocation.
        raise JobInputError(
            f"{len(failed)} of {len(results)} period(s) could not be allocated (the others were): "
            + " ".join(result.error for result in failed)
            + " See the reconciliation page and the source."
        )
    return {
        "periods": [f"{result.source_id}:{result.period:%Y-%m}" for result in results],
        "rows": sum(result.rows for result in results),
        "budget_alerts": len(alerts),
    }
