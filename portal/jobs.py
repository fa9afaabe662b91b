"""Background jobs: JobRun bookkeeping around Celery tasks.

Declare a job with :func:`job`; enqueue it with :func:`enqueue`::

    @job(name="portal.prune_job_runs", label="Prune old job runs", on_demand=True)
    def prune_job_runs(run: JobContext, *, older_than_days: int) -> dict: ...

    enqueue(prune_job_runs, actor=request.user, channel=ChannelChoices.UI, older_than_days=90)

``enqueue`` writes a queued JobRun in the caller's transaction and sends the task only after
that transaction commits, so a worker never races the row it is about to read. The task gets
the JobRun id and its keyword arguments (JSON only). A run that already finished is not run
again, which makes redelivery (``acks_late`` + ``reject_on_worker_lost``) safe for jobs
declared idempotent; their body must be safe to repeat after a crash half-way.

A worker running a job touches ``JobRun.heartbeat_at`` every ``PROPYLON_JOB_HEARTBEAT_SECONDS``.
The heartbeat tells a redelivered message whether the run it names is still being worked on
elsewhere (then the copy is dropped) or lost its worker (then it starts again), and it lets
:func:`fail_stale_job_runs` end runs whose worker died and whose message never came back.
"""

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app, shared_task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal.audit import audit_context
from portal.choices import ChannelChoices, JobStatusChoices
from portal.models import JobLogLevel, JobLogLine, JobRun
from portal.roles import has_role

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 2000


class JobCancelled(Exception):
    """Raised inside a job when someone cancelled it; the run ends as cancelled."""


class JobInputError(Exception):
    """A job was asked to do something impossible; the message is shown to the person as-is."""


@dataclass(frozen=True)
class JobDefinition:
    name: str
    label: str
    description: str
    on_demand: bool
    idempotent: bool
    task: Any
    # Roles that may start an on-demand job by hand (verification is a read: auditors may).
    started_by: tuple[str, ...] = ("admin",)

    def may_start(self, user) -> bool:
        return self.on_demand and has_role(user, *self.started_by)


# Every declared job, by task name. ``on_demand`` jobs can be started from the jobs page by admins.
JOB_REGISTRY: dict[str, JobDefinition] = {}


class JobContext:
    """What a running job uses to report progress and write its log."""

    def __init__(self, run: JobRun):
        self.run = run

    @property
    def id(self) -> int:
        return self.run.pk

    def progress(self, percent: float, message: str = "") -> None:
        """Record how far the job got (0-100). Raises JobCancelled if someone cancelled it."""
        percent = max(0, min(100, int(percent)))
        updated = JobRun.objects.filter(pk=self.run.pk, status=JobStatusChoices.RUNNING).update(
            progress=percent, progress_message=message[:300]
        )
        if not updated:
            raise JobCancelled()
        self.run.progress, self.run.progress_message = percent, message[:300]

    def log(self, message: str, level: str = JobLogLevel.INFO) -> None:
        JobLogLine.objects.create(job_id=self.run.pk, level=level, message=message)
        logger.log(
            {JobLogLevel.WARNING: logging.WARNING, JobLogLevel.ERROR: logging.ERROR}.get(level, logging.INFO),
            "job %s #%s: %s",
            self.run.task_name,
            self.run.pk,
            message,
        )


_eager_mode_announced = False


def _announce_eager_mode(task) -> None:
    global _eager_mode_announced
    if task.app.conf.task_always_eager and not _eager_mode_announced:
        _eager_mode_announced = True
        logger.info(
            "CELERY_BROKER_URL is not set: background jobs run eagerly in this process. "
            "Set it to a Redis or RabbitMQ URL and start `celery -A portal worker` for real workers."
        )


def runs_in_process() -> bool:
    """Whether jobs run eagerly in the calling process (no broker: the quick start, tests) rather
    than on workers; work that would fan out to several workers runs one piece after another."""
    return bool(current_app.conf.task_always_eager)


def enqueue(
    task,
    *,
    actor=None,
    actor_label: str = "",
    channel: str = ChannelChoices.SYSTEM,
    **arguments: Any,
) -> JobRun:
    """Create a queued JobRun and send ``task`` once the current transaction commits.

    ``task`` is the task or its registered name: a service that queues the job its own tasks
    module runs names it, so the two modules need not import each other."""
    definition = JOB_REGISTRY[task if isinstance(task, str) else task.name]
    task = definition.task
    task_id = str(uuid.uuid4())
    run = JobRun.objects.create(
        task_name=task.name,
        label=definition.label,
        arguments=arguments,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor_label
        or (actor.get_username() if getattr(actor, "is_authenticated", False) else ""),
        channel=channel,
        celery_task_id=task_id,
    )
    _announce_eager_mode(task)
    task.apply_async_on_commit(kwargs={"job_run_id": run.pk, **arguments}, task_id=task_id)
    return run


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def worker_still_on_it(run: JobRun) -> bool:
    """Whether the process that last ran ``run`` is still working on it.

    On this host the process table answers (a killed child is redelivered at once, within one
    heartbeat); elsewhere a heartbeat within three intervals is taken as a sign of life."""
    if not run.worker or run.heartbeat_at is None:
        return False
    host, _, pid = run.worker.rpartition(":")
    if (
        host == socket.gethostname()
        and pid.isdigit()
        and (int(pid) == os.getpid() or not _process_alive(int(pid)))
    ):
        return False
    alive_window = timedelta(seconds=3 * settings.PROPYLON_JOB_HEARTBEAT_SECONDS)
    return timezone.now() - run.heartbeat_at < alive_window


def _start(run_id: int | None, task, arguments: dict) -> JobRun | None:
    """Mark the run as running; return None when there is nothing (more) to do."""
    now = timezone.now()
    if run_id is None:
        # Started by Celery beat (or by hand with `celery call`): record it now.
        return JobRun.objects.create(
            task_name=task.name,
            label=JOB_REGISTRY[task.name].label,
            arguments=arguments,
            actor_label="schedule",
            channel=ChannelChoices.SYSTEM,
            celery_task_id=task.request.id or "",
            status=JobStatusChoices.RUNNING,
            started_at=now,
            heartbeat_at=now,
            worker=worker_identity(),
            attempts=1,
        )
    with transaction.atomic():
        run = JobRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            logger.warning("job %s: JobRun #%s does not exist; nothing to do", task.name, run_id)
            return None
        if run.is_finished:
            # A redelivered message for work that already ended: doing it again could double it.
            logger.info("job %s #%s already %s; not running it again", task.name, run_id, run.status)
            return None
        if run.status == JobStatusChoices.RUNNING and worker_still_on_it(run):
            # The broker's visibility timeout ran out while the job is still going: a second copy
            # would run the same work twice at once.
            logger.info(
                "job %s #%s is still running on %s; this delivery is dropped", task.name, run_id, run.worker
            )
            return None
        run.status = JobStatusChoices.RUNNING
        run.started_at = run.started_at or now
        run.heartbeat_at = now
        run.worker = worker_identity()
        run.attempts += 1
        run.save(update_fields=["status", "started_at", "heartbeat_at", "worker", "attempts"])
    if run.attempts > 1:
        JobLogLine.objects.create(
            job=run, level=JobLogLevel.WARNING, message=f"Restarted (attempt {run.attempts})."
        )
    return run


class Heartbeat:
    """Touches the run's heartbeat from a background thread while the job body runs.

    A thread rather than calls from ``run.progress()``: a job may spend minutes in one query or
    one download without reporting progress, and must not look dead meanwhile."""

    def __init__(self, run_id: int, interval: float):
        self.run_id = run_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"job-heartbeat-{run_id}", daemon=True)

    def beat(self) -> None:
        JobRun.objects.filter(pk=self.run_id, status=JobStatusChoices.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # a database hiccup must not kill the job; the next beat retries
                    logger.warning("job #%s: heartbeat failed", self.run_id, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)


def _finish(run: JobRun, status: str, *, result: dict | None = None, error: str = "") -> None:
    fields = {"status": status, "finished_at": timezone.now(), "error": error[:MAX_ERROR_LENGTH]}
    if status == JobStatusChoices.SUCCEEDED:
        fields.update(progress=100, result=result or {})
    # A cancelled run keeps its cancelled status even if the body finished after the request.
    JobRun.objects.filter(pk=run.pk).exclude(status=JobStatusChoices.CANCELLED).update(**fields)


def execute(task, job_function: Callable, run_id: int | None, arguments: dict) -> None:
    run = _start(run_id, task, arguments)
    if run is None:
        return
    context = JobContext(run)
    # Eager runs (the quick start, tests) have no broker to redeliver and share the caller's
    # transaction, which another thread's connection could not see or would wait on.
    heartbeat = (
        Heartbeat(run.pk, settings.PROPYLON_JOB_HEARTBEAT_SECONDS)
        if not task.app.conf.task_always_eager and not getattr(task.request, "is_eager", False)
        else contextlib.nullcontext()
    )
    try:
        with (
            heartbeat,
            audit_context(
                channel=ChannelChoices.JOB,
                user=run.actor,
                job_run_id=run.pk,
                label=f"job “{run.label}” #{run.pk}" + (f" for {run.actor_label}" if run.actor_label else ""),
            ),
        ):
            outcome = job_function(context, **arguments)
    except JobCancelled:
        context.log("Stopped: the job was cancelled.", JobLogLevel.WARNING)
        _finish(run, JobStatusChoices.CANCELLED)
    except JobInputError as exc:
        context.log(str(exc), JobLogLevel.ERROR)
        _finish(run, JobStatusChoices.FAILED, error=str(exc))
    except Exception as exc:
        # People see a one-line message; the traceback goes to the worker's log for operators.
        logger.exception("job %s #%s failed", task.name, run.pk)
        message = f"{type(exc).__name__}: {exc}"
        context.log(f"Failed: {message} (details are in the worker log)", JobLogLevel.ERROR)
        _finish(run, JobStatusChoices.FAILED, error=message)
    else:
        _finish(run, JobStatusChoices.SUCCEEDED, result=outcome if isinstance(outcome, dict) else {})


def job(
    *,
    name: str,
    label: str,
    description: str = "",
    on_demand: bool = False,
    idempotent: bool = True,
    started_by: tuple[str, ...] = ("admin",),
    **task_options: Any,
):
    """Turn ``fn(run: JobContext, **kwargs)`` into a Celery task whose every run is a JobRun."""

    def decorator(job_function: Callable):
        def run_task(self, job_run_id: int | None = None, **arguments: Any) -> None:
            execute(self, job_function, job_run_id, arguments)

        run_task.__name__ = job_function.__name__
        run_task.__doc__ = job_function.__doc__
        run_task.__module__ = job_function.__module__
        task = shared_task(
            name=name,
            bind=True,
            # Only a job that is safe to repeat may be redelivered after a worker dies mid-way.
            acks_late=idempotent,
            reject_on_worker_lost=idempotent,
            **task_options,
        )(run_task)
        JOB_REGISTRY[name] = JobDefinition(
            name=name,
            label=label,
            description=description or (job_function.__doc__ or "").strip().split("\n")[0],
            on_demand=on_demand,
            idempotent=idempotent,
            task=task,
            started_by=started_by,
        )
        return task

    return decorator


def cancel(run: JobRun) -> bool:
    """Ask a queued or running job to stop; True if it was still cancellable."""
    updated = JobRun.objects.filter(
        pk=run.pk, status__in=[JobStatusChoices.QUEUED, JobStatusChoices.RUNNING]
    ).update(status=JobStatusChoices.CANCELLED, finished_at=timezone.now())
    if updated:
        JobLogLine.objects.create(job=run, level=JobLogLevel.WARNING, message="Cancellation requested.")
    return bool(updated)


STALE_JOB_ERROR = (
    "The worker running this job stopped (no sign of life since {last:%Y-%m-%d %H:%M:%S} UTC) and "
    "the job was not picked up again. Start it again if it is still needed."
)


def stale_job_cutoff():
    return timezone.now() - timedelta(seconds=settings.PROPYLON_JOB_STALE_AFTER_SECONDS)


def fail_stale_job_runs() -> int:
    """End as failed every running run whose worker has given no sign of life for
    ``PROPYLON_JOB_STALE_AFTER_SECONDS``; return how many.

    The default is longer than the broker's visibility timeout, so a lost job's message has had
    its chance to be redelivered (and to restart the run, which refreshes the heartbeat) first."""
    cutoff = stale_job_cutoff()
    silent = (
        Q(heartbeat_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True, created_at__lt=cutoff)
    )
    stale = JobRun.objects.filter(silent, status=JobStatusChoices.RUNNING).annotate(
        last_sign=Coalesce("heartbeat_at", "started_at", "created_at")
    )
    failed = 0
    for run_id, last_sign in stale.values_list("pk", "last_sign"):
        error = STALE_JOB_ERROR.format(last=last_sign)
        with transaction.atomic():
            # Re-checked in the update: a heartbeat or a finish may have landed meanwhile.
            updated = JobRun.objects.filter(silent, pk=run_id, status=JobStatusChoices.RUNNING).update(
                status=JobStatusChoices.FAILED, finished_at=timezone.now(), error=error
            )
            if updated:
                JobLogLine.objects.create(job_id=run_id, level=JobLogLevel.ERROR, message=error)
                logger.warning("job run #%s marked failed: its worker stopped", run_id)
                failed += updated
    return failed
