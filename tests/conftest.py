import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from portal.celery import app as celery_app
from portal.roles import Role
from portal.testing.factories import UserFactory
from portal.testing.services import CHROMIUM_PATH, require_broker, require_chromium, require_marked_services

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / "test-artifacts"


def pytest_runtest_setup(item):
    # Before any fixture: a test marked `postgres` or `real_worker` skips (or, with
    # PROPYLON_REQUIRE_SERVICES=1, fails) when the service is missing, without asking itself.
    require_marked_services(item)


@pytest.fixture(autouse=True)
def _fast_and_quiet(settings):
    # Hashing with PBKDF2 costs ~0.3 s per user; tests create many.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A failed notification is retried in-process in eager mode: without the pauses.
    settings.PROPYLON_NOTIFICATION_RETRY_BASE_SECONDS = 0


@pytest.fixture(autouse=True)
def _audit_checkpoints_in_a_scratch_directory(settings, tmp_path):
    # Never into the checkout's var/, and no test sees another's checkpoints.
    settings.PROPYLON_AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Transactional tests reset PostgreSQL with TRUNCATE, which the audit trail's trigger
    (portal/0010) refuses; in the test database only, it is off. The test of the trigger turns
    it on inside its own transaction."""
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "ALTER TABLE portal_auditentry DISABLE TRIGGER portal_auditentry_refuse_truncate"
                )
    yield


@pytest.fixture(autouse=True)
def _eager_unless_real_worker(request):
    """Tests run jobs in-process unless they ask for the real broker and worker."""
    if request.node.get_closest_marker("real_worker"):
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def run_job(django_capture_on_commit_callbacks):
    """Enqueue as production code does and run the on-commit send (tests live in a transaction)."""
    from portal import jobs

    def enqueue_and_run(task, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            run = jobs.enqueue(task, **kwargs)
        run.refresh_from_db()
        return run

    return enqueue_and_run


#
# People in every role
#


@pytest.fixture
def make_user(db):
    def make(username: str, *roles: str, **fields):
        return UserFactory(username=username, roles=list(roles), **fields)

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def team_lead(make_user):
    return make_user("lena", Role.TEAM_LEAD, Role.TEAM_MEMBER)


@pytest.fixture
def team_member(make_user):
    return make_user("priya", Role.TEAM_MEMBER)


@pytest.fixture
def reviewer(make_user):
    return make_user("ravi", Role.COE_REVIEWER)


@pytest.fixture
def executive(make_user):
    return make_user("claire", Role.EXECUTIVE)


@pytest.fixture
def auditor(make_user):
    return make_user("aksel", Role.AUDITOR)


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


#
# A real Celery worker against the test database and the configured broker
#


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    require_broker()
    with django_db_blocker.unblock():
        database_name = connection.settings_dict["NAME"]
    database = settings.DATABASES["default"]
    url = (
        f"postgres://{database['USER']}:{database.get('PASSWORD') or ''}@"
        f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database_name}"
    )
    # Messages left on the broker by an earlier, interrupted run must not reach this worker.
    celery_app.control.purge()
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    log_file = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--concurrency=1",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"celery worker did not start:\n{log_path.read_text()}", pytrace=False)
        time.sleep(0.2)
    yield {"process": worker, "log": log_path}
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
    log_file.close()


#
# Browser tests: Playwright driving the system's Chromium against the live server
#


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser(django_db_setup):
    require_chromium()
    from django.db import connections

    snapshots = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    # Playwright's sync API runs an event loop in this thread; the Django ORM calls the tests
    # make around it are ordinary synchronous calls, so allow them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Starting Playwright's event loop leaves this thread with fresh Django connection
        # objects (asgiref keys them by context). Carry over the snapshot that
        # serialized_rollback restores after each flush, or the rows the data migrations wrote
        # (roles, lifecycle stages, schedules) vanish after the first transactional test.
        for alias, contents in snapshots.items():
            connections[alias]._test_serialized_contents = contents
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH if os.path.exists(CHROMIUM_PATH) else "chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )  # fmt: skip
        yield chromium
        chromium.close()
    if previous is None:
        # Subprocesses started by later tests (e.g. `check --deploy`) must not inherit it.
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(request, browser, live_server):
    """A fresh browser page; a screenshot lands in test-artifacts/ when the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=live_server.url)
    browser_page = context.new_page()
    browser_page.set_default_timeout(10_000)
    yield browser_page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        browser_page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
