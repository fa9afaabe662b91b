"""JobRun bookkeeping around Celery tasks: status, progress, log, errors, idempotency."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal import jobs
from portal.choices import ChannelChoices, JobStatusChoices
from portal.models import JobRun
from portal.tasks import prune_job_runs
from portal.testing.factories import JobRunFactory
from tests.portal.jobs_for_tests import cancel_myself, count_to, explode

pytestmark = pytest.mark.django_db


def test_a_job_runs_to_success_with_progress_log_and_result(admin_user, run_job):
    run = run_job(count_to, actor=admin_user, channel=ChannelChoices.UI, target=4)
    assert run.status == JobStatusChoices.SUCCEEDED
    assert run.progress == 100
    assert run.progress_message == "Counted 4 of 4"
    assert run.result == {"counted": 4}
    assert run.arguments == {"target": 4}
    assert (run.actor, run.actor_label, run.channel) == (admin_user, admin_user.username, "ui")
    assert run.attempts == 1
    assert run.started_at <= run.finished_at
    assert [line.message for line in run.log_lines.all()] == ["Counted to 4."]


def test_the_task_is_sent_only_when_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = jobs.enqueue(count_to, target=1)
    run.refresh_from_db()
    assert run.status == JobStatusChoices.QUEUED
    assert len(callbacks) == 1
    callbacks[0]()
    run.refresh_from_db()
    assert run.status == JobStatusChoices.SUCCEEDED


def test_a_failing_job_records_a_short_error_and_no_traceback(caplog, run_job):
    run = run_job(explode, how="crash")
    assert run.status == JobStatusChoices.FAILED
    assert run.error == "RuntimeError: database password is hunter2"
    assert "Traceback" not in run.error
    assert all("Traceback" not in line.message for line in run.log_lines.all())
    assert run.finished_at is not None
    # Operators still get the traceback, in the worker's log.
    assert any(record.exc_info for record in caplog.records if record.name == "portal.jobs")


def test_a_job_input_error_is_shown_as_written(run_job):
    run = run_job(explode, how="input")
    assert run.status == JobStatusChoices.FAILED
    assert run.error == "The file 'costs.csv' has no BilledCost column."


def test_a_redelivered_task_for_a_finished_run_does_nothing(run_job):
    run = run_job(count_to, target=2)
    first_finish = run.finished_at
    count_to.apply(kwargs={"job_run_id": run.pk, "target": 2})  # the broker delivers it again
    run.refresh_from_db()
    assert run.attempts == 1
    assert run.finished_at == first_finish
    assert run.log_lines.count() == 1


def test_a_run_interrupted_mid_way_is_restarted_and_says_so():
    run = JobRunFactory(task_name=count_to.name, label="Count", status=JobStatusChoices.RUNNING, attempts=1)
    count_to.apply(kwargs={"job_run_id": run.pk, "target": 1})
    run.refresh_from_db()
    assert run.status == JobStatusChoices.SUCCEEDED
    assert run.attempts == 2
    assert run.log_lines.first().message == "Restarted (attempt 2)."


def test_a_cancelled_job_stops_at_its_next_progress_report(run_job):
    run = run_job(cancel_myself)
    assert run.status == JobStatusChoices.CANCELLED
    assert run.result == {}
    assert "Stopped: the job was cancelled." in [line.message for line in run.log_lines.all()]


def test_cancel_only_applies_to_unfinished_runs():
    queued = JobRunFactory(status=JobStatusChoices.QUEUED)
    finished = JobRunFactory(status=JobStatusChoices.SUCCEEDED)
    assert jobs.cancel(queued) is True
    assert jobs.cancel(finished) is False
    queued.refresh_from_db()
    assert queued.status == JobStatusChoices.CANCELLED


def test_a_scheduled_run_without_a_job_run_records_one():
    count_to.apply(kwargs={"target": 1})  # what Celery beat sends: no job_run_id
    run = JobRun.objects.get(task_name=count_to.name)
    assert run.status == JobStatusChoices.SUCCEEDED
    assert (run.channel, run.actor_label) == (ChannelChoices.SYSTEM, "schedule")


def test_a_task_for_a_missing_run_is_ignored():
    count_to.apply(kwargs={"job_run_id": 987654, "target": 1})
    assert not JobRun.objects.exists()


def test_tasks_are_acks_late_only_when_idempotent():
    assert count_to.acks_late is True
    assert count_to.reject_on_worker_lost is True
    assert jobs.JOB_REGISTRY[count_to.name].idempotent is True


def test_prune_deletes_only_old_finished_runs(run_job):
    old = timezone.now() - timedelta(days=120)
    old_finished = JobRunFactory(status=JobStatusChoices.SUCCEEDED, created_at=old)
    old_failed = JobRunFactory(status=JobStatusChoices.FAILED, created_at=old)
    old_running = JobRunFactory(status=JobStatusChoices.RUNNING, created_at=old)
    recent = JobRunFactory(status=JobStatusChoices.SUCCEEDED)
    run = run_job(prune_job_runs, older_than_days=90)
    assert run.status == JobStatusChoices.SUCCEEDED
    assert run.result == {"deleted": 2, "older_than_days": 90}
    remaining = set(JobRun.objects.values_list("pk", flat=True))
    assert old_finished.pk not in remaining and old_failed.pk not in remaining
    assert {old_running.pk, recent.pk, run.pk} <= remaining


def test_prune_refuses_a_nonsensical_retention(run_job):
    run = run_job(prune_job_runs, older_than_days=0)
    assert run.status == JobStatusChoices.FAILED
    assert "at least 1" in run.error


def test_the_nightly_prune_schedule_is_stored_in_the_database():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="portal.prune_job_runs")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("3", "15", "UTC")


#
# Runs whose worker died (issue 10, #36)
#


def test_a_run_whose_worker_died_is_ended_failed_by_the_sweep(settings):
    settings.PROPYLON_JOB_STALE_AFTER_SECONDS = 900
    now = timezone.now()
    dead = JobRunFactory(
        status=JobStatusChoices.RUNNING,
        started_at=now - timedelta(hours=3),
        heartbeat_at=now - timedelta(minutes=16),
        worker="worker-7:4242",
    )
    # Started before heartbeats existed (or by a process that never beat): its start time counts.
    silent = JobRunFactory(status=JobStatusChoices.RUNNING, started_at=now - timedelta(hours=2))
    alive = JobRunFactory(
        status=JobStatusChoices.RUNNING,
        started_at=now - timedelta(hours=3),
        heartbeat_at=now - timedelta(seconds=20),
    )
    queued = JobRunFactory(status=JobStatusChoices.QUEUED, created_at=now - timedelta(hours=3))

    from portal.tasks import fail_stale_job_runs

    assert fail_stale_job_runs.apply().get() == 2
    for run in (dead, silent, alive, queued):
        run.refresh_from_db()
    assert (dead.status, silent.status) == (JobStatusChoices.FAILED, JobStatusChoices.FAILED)
    assert dead.finished_at is not None
    assert "The worker running this job stopped" in dead.error
    assert dead.log_lines.get().message == dead.error
    assert (alive.status, queued.status) == (JobStatusChoices.RUNNING, JobStatusChoices.QUEUED)
    # A second sweep finds nothing more to do.
    assert jobs.fail_stale_job_runs() == 0


def test_a_redelivered_message_for_a_run_still_alive_elsewhere_is_dropped():
    """A short visibility timeout must not start a long job twice while it runs."""
    run = JobRunFactory(
        task_name=count_to.name,
        label="Count",
        status=JobStatusChoices.RUNNING,
        attempts=1,
        started_at=timezone.now() - timedelta(hours=1),
        heartbeat_at=timezone.now() - timedelta(seconds=5),
        worker="another-machine:1234",
    )
    count_to.apply(kwargs={"job_run_id": run.pk, "target": 1})
    run.refresh_from_db()
    assert (run.status, run.attempts, run.log_lines.count()) == (JobStatusChoices.RUNNING, 1, 0)


def test_a_redelivered_message_for_a_run_whose_worker_died_restarts_it():
    import socket

    for worker, heartbeat_age in (
        ("another-machine:1234", timedelta(minutes=10)),  # silent for long: gone
        (f"{socket.gethostname()}:999999999", timedelta(seconds=5)),  # fresh beat, but no such process here
    ):
        run = JobRunFactory(
            task_name=count_to.name,
            label="Count",
            status=JobStatusChoices.RUNNING,
            attempts=1,
            heartbeat_at=timezone.now() - heartbeat_age,
            worker=worker,
        )
        count_to.apply(kwargs={"job_run_id": run.pk, "target": 1})
        run.refresh_from_db()
        assert (run.status, run.attempts) == (JobStatusChoices.SUCCEEDED, 2), worker


def test_the_heartbeat_touches_only_a_running_run():
    run = JobRunFactory(status=JobStatusChoices.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1))
    jobs.Heartbeat(run.pk, interval=30).beat()
    run.refresh_from_db()
    assert timezone.now() - run.heartbeat_at < timedelta(seconds=5)
    finished = JobRunFactory(status=JobStatusChoices.SUCCEEDED, heartbeat_at=None)
    jobs.Heartbeat(finished.pk, interval=30).beat()
    finished.refresh_from_db()
    assert finished.heartbeat_at is None


def test_the_stale_job_sweep_is_scheduled_every_five_minutes():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="portal.fail_stale_job_runs")
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (5, "minutes")


def test_a_killed_worker_s_job_comes_back_within_minutes_by_default(tmp_path):
    """The broker redelivers an unacknowledged message after the visibility timeout; 12 hours
    (the old default) left a dead job "running" for half a day."""
    from tests.portal.test_settings import propylon

    script = (
        "from django.conf import settings as s; "
        "print(s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'], s.PROPYLON_JOB_STALE_AFTER_SECONDS)"
    )
    result = propylon("shell", "-c", script, env={}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    visibility, stale_after = map(int, result.stdout.strip().splitlines()[-1].split())
    assert visibility <= 15 * 60
    assert visibility < stale_after <= 30 * 60
