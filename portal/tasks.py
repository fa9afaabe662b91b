"""Jobs of the shared plumbing."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from portal import audit, jobs
from portal.choices import JobStatusChoices
from portal.jobs import JobContext, JobInputError, job
from portal.models import JobRun
from portal.notifications import deliver_notification  # noqa: F401 - registers the delivery task
from portal.roles import Role

logger = logging.getLogger(__name__)

PRUNE_BATCH_SIZE = 500


@job(
    name="portal.prune_job_runs",
    label="Prune old job runs",
    description="Delete finished job runs (and their logs) older than the retention period.",
    on_demand=True,
)
def prune_job_runs(run: JobContext, *, older_than_days: int | None = None) -> dict:
    """Delete finished job runs older than the retention period, in batches."""
    days = settings.PROPYLON_JOB_RETENTION_DAYS if older_than_days is None else older_than_days
    if not isinstance(days, int) or days < 1:
        raise JobInputError(f"older_than_days must be a whole number of days, at least 1 (got {days!r}).")
    cutoff = timezone.now() - timedelta(days=days)
    # Never prune the run doing the pruning, and never a run that has not finished.
    candidates = JobRun.objects.filter(status__in=JobStatusChoices.FINISHED, created_at__lt=cutoff).exclude(
        pk=run.id
    )
    total = candidates.count()
    run.log(f"{total} finished job run(s) older than {days} day(s) (before {cutoff:%Y-%m-%d %H:%M} UTC).")
    deleted = 0
    while True:
        batch = list(candidates.order_by("pk").values_list("pk", flat=True)[:PRUNE_BATCH_SIZE])
        if not batch:
            break
        JobRun.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
        run.progress(100 * deleted / max(total, 1), f"Deleted {deleted} of {total}")
    run.log(f"Deleted {deleted} job run(s).")
    return {"deleted": deleted, "older_than_days": days}


@shared_task(name="portal.fail_stale_job_runs", ignore_result=True)
def fail_stale_job_runs() -> int:
    """Every few minutes (beat): end runs whose worker died and whose message never came back.

    A plain task, not a @job: a JobRun every five minutes would bury the jobs page."""
    return jobs.fail_stale_job_runs()


@shared_task(name="portal.checkpoint_audit_trail", ignore_result=True)
def checkpoint_audit_trail() -> int | None:
    """Every 15 minutes (beat): sign the audit trail's head into PROPYLON_AUDIT_CHECKPOINT_DIR.

    A plain task like the stale-job sweep. A trail that no longer extends the last checkpoint is
    logged as an error and not anchored; the nightly verification then fails on it."""
    try:
        checkpoint = audit.write_checkpoint()
    except audit.CheckpointError as exc:
        logger.error("audit checkpoint: %s", exc)
        raise
    return checkpoint.entry_id if checkpoint else None


@job(
    name="portal.verify_audit_trail",
    label="Verify the audit trail",
    description=(
        "Recompute the audit trail's hash chain, compare it with the latest signed checkpoint and "
        "report the first entry that does not verify or the entries deleted from its end."
    ),
    on_demand=True,
    started_by=(Role.ADMIN, Role.AUDITOR),
)
def verify_audit_trail(run: JobContext) -> dict:
    run.progress(5, "Recomputing the hash chain")
    result = audit.verify_chain()
    if not result.intact:
        # A failed run is what operators alert on; the message names the entry or the loss.
        raise JobInputError(result.summary())
    run.log(result.summary())
    return result.as_dict()
