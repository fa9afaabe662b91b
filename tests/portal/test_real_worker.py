"""Jobs through a real broker and a real `celery worker` process (CI: PostgreSQL + Redis)."""

import time

import pytest

from portal import jobs
from portal.choices import JobStatusChoices
from portal.models import JobRun
from portal.tasks import prune_job_runs
from portal.testing.factories import JobRunFactory

pytestmark = [pytest.mark.real_worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def wait_until_finished(run: JobRun, timeout: float = 60) -> JobRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        time.sleep(0.2)
    pytest.fail(f"job #{run.pk} still {run.status} after {timeout} s")


def test_a_job_goes_through_the_broker_and_the_worker(celery_worker_process, admin_user):
    from datetime import timedelta

    from django.utils import timezone

    old = JobRunFactory(status=JobStatusChoices.SUCCEEDED, created_at=timezone.now() - timedelta(days=400))
    run = jobs.enqueue(prune_job_runs, actor=admin_user, older_than_days=365)
    run = wait_until_finished(run)
    assert run.status == JobStatusChoices.SUCCEEDED, run.error
    assert run.result == {"deleted": 1, "older_than_days": 365}
    assert not JobRun.objects.filter(pk=old.pk).exists()
    # The worker, not this process, ran it: its log names the task and the run id.
    assert f"job {prune_job_runs.name} #{run.pk}" in celery_worker_process["log"].read_text()
    # It said who it was and beat while running, so a redelivery could tell it was alive.
    assert run.worker.endswith(f":{celery_worker_process['process'].pid}")
    assert run.heartbeat_at is not None


def test_a_failing_job_in_the_worker_ends_failed_with_its_message(celery_worker_process):
    run = wait_until_finished(jobs.enqueue(prune_job_runs, older_than_days=-3))
    assert run.status == JobStatusChoices.FAILED
    assert run.error == "older_than_days must be a whole number of days, at least 1 (got -3)."


def test_the_worker_does_not_run_a_finished_job_again(celery_worker_process):
    run = wait_until_finished(jobs.enqueue(prune_job_runs))
    finished_at = run.finished_at
    prune_job_runs.apply_async(kwargs={"job_run_id": run.pk})  # a redelivered message
    second = wait_until_finished(jobs.enqueue(prune_job_runs))  # the queue is FIFO with one worker
    run.refresh_from_db()
    assert second.status == JobStatusChoices.SUCCEEDED
    assert (run.attempts, run.finished_at) == (1, finished_at)
