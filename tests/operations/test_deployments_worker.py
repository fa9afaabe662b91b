"""Deployments through a real broker and real `celery worker` processes (CI: PostgreSQL + Redis):
the normal path, and a worker killed with SIGKILL in the middle of the HTTP call (invariant 6).

The killed-worker test starts its own workers on a queue of their own with a short broker
visibility timeout (CELERY_VISIBILITY_TIMEOUT), so the message the dead worker took comes back
within seconds and no other worker of the session can take it."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from inventory.models import Environment
from inventory.services import usecases
from inventory.testing import TeamFactory
from operations.choices import DeploymentEventKindChoices as Kind
from operations.choices import DeploymentStatusChoices as Status
from operations.models import Deployment
from operations.services import deployments as services
from operations.targets.base import IDEMPOTENCY_HEADER
from operations.testing import FakeTarget
from portal.celery import app as celery_app
from portal.roles import Role
from portal.testing.factories import UserFactory
from tests.operations.deploy_fixtures import make_release, make_target, signed_callback

pytestmark = [pytest.mark.real_worker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]
VISIBILITY_TIMEOUT = 3


def wait_for(predicate, timeout: float, what: str, *, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tail = "\n".join(log.read_text().splitlines()[-40:]) if log else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{tail}", pytrace=False)


def _use_case_in_staging(target_url: str, *, timeout: int = 10):
    suffix = uuid.uuid4().hex[:6]
    lead = UserFactory(username=f"lead-{suffix}", roles=[Role.TEAM_LEAD, Role.TEAM_MEMBER])
    team = TeamFactory(name=f"Team {suffix}", slug=f"team-{suffix}", lead=lead)
    use_case = usecases.usecase_create(
        actor=lead, owning_team=team, accountable_owner=lead, name="Support chatbot",
        purpose="Answers customers' questions about orders.", ai_kind="generative", data_sensitivity="pii",
        submit=True,
    )  # fmt: skip
    environment = Environment.objects.create(
        slug=f"staging-{suffix}", name=f"Staging {suffix}", kind="staging"
    )
    make_target(environment, target_url, name=f"hook-{suffix}", timeout=timeout)
    return lead, use_case, make_release(use_case, "1.0"), environment


def _deploy(lead, use_case, release, environment) -> Deployment:
    return services.deployment_request(
        actor=lead, use_case=use_case, release=release, environment=environment
    )


def test_a_deployment_goes_through_the_broker_and_the_worker(celery_worker_process):
    with FakeTarget() as fake:
        fake.respond(200, {"id": "run-1"})
        lead, use_case, release, environment = _use_case_in_staging(fake.url)
        deployment = _deploy(lead, use_case, release, environment)
        wait_for(
            lambda: Deployment.objects.get(pk=deployment.pk).status != Status.QUEUED,
            60,
            "the worker's dispatch",
            log=celery_worker_process["log"],
        )
    deployment.refresh_from_db()
    assert deployment.status == Status.DISPATCHED and deployment.external_id == "run-1"
    assert deployment.job_run.worker.endswith(f":{celery_worker_process['process'].pid}")
    assert [r.headers[IDEMPOTENCY_HEADER] for r in fake.requests] == [deployment.idempotency_key]


class _Worker:
    """A `celery worker` of this test alone: its own queue, a short visibility timeout."""

    def __init__(self, queue: str, log_path: Path):
        database = settings.DATABASES["default"]
        url = (
            f"postgres://{database['USER']}:{database.get('PASSWORD') or ''}@"
            f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{connection.settings_dict['NAME']}"
        )
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PYTHONUNBUFFERED": "1",
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        }
        self.log_path = log_path
        self.log = log_path.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--concurrency=1",
             "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", queue],
            cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(
            lambda: self.log_path.read_text().count("ready.") >= 1 or self.process.poll() is not None,
            60,
            "ready",
        )
        if self.process.poll() is not None:
            pytest.fail(f"celery worker did not start:\n{self.log_path.read_text()}", pytrace=False)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


@pytest.fixture
def own_queue():
    """Route the dispatch job to a queue only this test's workers read."""
    queue = f"propylon-deploy-crash-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_routes
    celery_app.conf.task_routes = {services.DISPATCH_TASK: {"queue": queue}}
    _reset_router()
    yield queue
    celery_app.conf.task_routes = previous
    _reset_router()


def _reset_router():
    # Celery builds its router once and caches it: rebuild it from the routes just set.
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)


def test_a_worker_killed_mid_dispatch_never_dispatches_twice(own_queue, tmp_path, client: Client):
    workers = []
    try:
        with FakeTarget() as fake:
            fake.respond(200, {"id": "run-slow"}, delay=30)  # the first worker dies while waiting for this
            fake.respond(200, {"id": "run-1"})
            lead, use_case, release, environment = _use_case_in_staging(fake.url, timeout=60)
            workers.append(_Worker(own_queue, tmp_path / "first.log"))
            deployment = _deploy(lead, use_case, release, environment)
            wait_for(lambda: len(fake.requests) == 1, 60, "the first worker's HTTP call")
            deployment.refresh_from_db()
            # The marker was committed before the call: the next delivery will see it.
            assert deployment.dispatch_started_at is not None and deployment.dispatched_at is None
            workers[0].process.send_signal(signal.SIGKILL)
            workers[0].process.wait(timeout=10)
            assert workers[0].process.returncode == -signal.SIGKILL
            time.sleep(VISIBILITY_TIMEOUT + 1)
            workers.append(_Worker(own_queue, tmp_path / "second.log"))
            wait_for(
                lambda: Deployment.objects.get(pk=deployment.pk).status != Status.QUEUED,
                90,
                "the redelivered dispatch",
            )
            deployment.refresh_from_db()
            keys = {received.headers[IDEMPOTENCY_HEADER] for received in fake.requests}
            # One effective dispatch: the receiver saw one idempotency key (sent twice at most).
            assert keys == {deployment.idempotency_key}
            history = list(deployment.events.values_list("kind", "message"))
            assert len(fake.requests) == 2, (deployment.status, deployment.message, history)
            assert deployment.status == Status.DISPATCHED and deployment.attempts == 2
            assert deployment.external_id == "run-1"
            started = deployment.events.filter(kind=Kind.DISPATCH_STARTED).values_list("message", flat=True)
            assert "same idempotency key" in list(started)[-1]
            assert deployment.job_run.worker.endswith(f":{workers[1].process.pid}")
        # The target reports the outcome: the deployment ends in a true final state.
        assert signed_callback(client, deployment.pk, {"status": "succeeded"}).status_code == 200
        deployment.refresh_from_db()
        assert deployment.status == Status.SUCCEEDED and deployment.is_current
    finally:
        for worker in workers:
            worker.stop()
