"""Issue 10 items 10 and 11, with real processes: `manage.py import_costs` runs in a subprocess
against its own SQLite file.

* Item 10: an import killed with SIGKILL mid-way is left "running" with rows; the next import
  fails it with a clear reason and deletes its rows.
* Item 11: a 300 MB file without line breaks is refused naming file and row, and the importing
  process's peak memory (its ru_maxrss, from wait4) stays far below the file's size.
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings

from tests.costs.billing_files import FOCUS_COLUMNS, focus_rows, write_csv

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)
MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
# Runs argv[1:] and prints its peak resident size (KiB, from wait4's rusage) and exit code.
LAUNCHER = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))\n"
)


def _environment(folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "PYTEST_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PROPYLON_DATA_DIR=str(folder / "data"),
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        PROPYLON_COST_IMPORT_ROOT=str(folder / "billing"),
        # Small batches: the first rows reach the table long before the file ends.
        PROPYLON_COST_IMPORT_BATCH_ROWS="5000",
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(folder: Path, *arguments: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, MANAGE, *arguments],
        env=_environment(folder),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """One migrated SQLite file with a FOCUS source; each test works on a copy."""
    folder = tmp_path_factory.mktemp("import-processes")
    (folder / "billing").mkdir()
    done = _manage(folder, "migrate", "-v0")
    assert done.returncode == 0, done.stderr
    create = (
        "from costs.services.sources import cost_source_create; "
        f"cost_source_create(name='Billing', kind='focus', location={str(folder / 'billing')!r})"
    )
    done = _manage(folder, "shell", "-c", create)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture
def workspace(migrated, tmp_path) -> Path:
    (tmp_path / "billing").mkdir()
    (tmp_path / "data").mkdir()
    shutil.copy(migrated / "db.sqlite3", tmp_path / "db.sqlite3")
    return tmp_path


def _query(folder: Path, sql: str, *parameters) -> list[tuple]:
    with sqlite3.connect(folder / "db.sqlite3", timeout=30) as connection:
        return connection.execute(sql, parameters).fetchall()


def test_an_import_killed_with_sigkill_is_failed_and_its_rows_deleted_by_the_next(workspace):
    big = write_csv(workspace / "billing" / "big.csv", FOCUS_COLUMNS, focus_rows(NOV, count=150_000))
    child = subprocess.Popen(
        [sys.executable, MANAGE, "import_costs", "--format", "focus", str(big)],
        env=_environment(workspace),
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        written = 0
        while written < 5_000:  # the first batch is in the table: the import is mid-way
            assert child.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "no line item was written within 5 minutes"
            time.sleep(0.2)
            try:
                written = _query(workspace, "SELECT COUNT(*) FROM costs_costlineitem")[0][0]
            except sqlite3.OperationalError:
                continue  # locked by the writer for a moment
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    ((killed, status, rows_left),) = _query(
        workspace,
        "SELECT i.id, i.status, (SELECT COUNT(*) FROM costs_costlineitem l WHERE l.cost_import_id = i.id) "
        "FROM costs_costimport i",
    )
    assert status == "running" and rows_left >= 5_000  # what kill -9 leaves behind

    small = write_csv(workspace / "billing" / "december.csv", FOCUS_COLUMNS, focus_rows(DEC, count=5))
    done = _manage(workspace, "import_costs", "--format", "focus", str(small))
    assert done.returncode == 0, done.stderr

    ((status, error, row_count, finished),) = _query(
        workspace,
        "SELECT status, error_message, row_count, finished_at FROM costs_costimport WHERE id = ?",
        killed,
    )
    assert status == "failed" and row_count == 0 and finished
    assert error.startswith("Abandoned: the process that ran it (") and "is gone" in error, error
    assert f"Its {rows_left:,} line item(s) written so far were deleted" in error
    assert _query(workspace, "SELECT COUNT(*) FROM costs_costlineitem WHERE cost_import_id = ?", killed) == [
        (0,)
    ]
    assert _query(workspace, "SELECT status, row_count FROM costs_costimport WHERE id != ?", killed) == [
        ("succeeded", 5)
    ]


def test_a_file_without_line_breaks_is_refused_in_bounded_memory(workspace):
    size = 300 * 1024 * 1024
    path = workspace / "billing" / "one-line.csv"
    chunk = b"x" * (1024 * 1024)
    with path.open("wb") as handle:  # streamed: the test itself never holds the file
        handle.write((",".join(FOCUS_COLUMNS) + "\n").encode())
        for _ in range(size // len(chunk)):
            handle.write(chunk)
    try:
        # Linux keeps a parent's peak in a forked child's ru_maxrss across exec, and this test
        # process is large: a small launcher starts the import and reports the import's own.
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                LAUNCHER,
                sys.executable,
                MANAGE,
                "import_costs",
                "--format",
                "focus",
                str(path),
            ],
            env=_environment(workspace),
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        path.unlink(missing_ok=True)
    peak_kib, returncode = (int(word) for word in done.stdout.split()[-2:])
    stderr = done.stderr
    peak_mb = peak_kib / 1024
    assert returncode == 1, stderr
    assert (
        f"Import failed, nothing changed: {path}, row 2: the line (or row) is longer than 16,777,216 "
        "characters without ending" in stderr
    ), stderr
    # Django, pyarrow and the import stay well under this; reading the line whole took 2x the file.
    assert peak_mb < 250, f"peak memory {peak_mb:.0f} MB for a {size // 2**20} MB file"
    assert _query(workspace, "SELECT status FROM costs_costimport") == [("failed",)]


@pytest.mark.postgres
# Flushed without re-creating content types, as the real-worker tests after it expect.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_postgresql_a_killed_load_is_one_table_the_next_import_drops(tmp_path, settings):
    from django.db import connection

    from costs.ingest import store
    from costs.models import CostImport
    from costs.services.imports import cost_imports_reap_abandoned
    from costs.services.sources import cost_source_create

    settings.PROPYLON_COST_IMPORT_ROOT = str(tmp_path)
    cost_source_create(name="Killed", kind="focus", location=str(tmp_path))
    big = write_csv(tmp_path / "big.csv", FOCUS_COLUMNS, focus_rows(NOV, count=150_000))
    database = connection.settings_dict
    env = _environment(tmp_path) | {
        "DATABASE_URL": f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@"
        f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}",
        "PROPYLON_COST_IMPORT_ROOT": str(tmp_path),
    }
    child = subprocess.Popen(
        [sys.executable, MANAGE, "import_costs", "--format", "focus", str(big), "--source", "Killed"],
        env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while True:
            assert child.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "no line item was written within 5 minutes"
            running = CostImport.objects.filter(status="running").first()
            if running is not None and store.rows_in_load(running.pk) >= 5_000:
                break
            time.sleep(0.1)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    rows_left = store.rows_in_load(running.pk)
    # What kill -9 leaves behind: one table nobody reads, no row in the partitioned table.
    assert store.load_table_import_ids() == {running.pk} and store.attached_import_ids() == set()
    assert rows_left >= 5_000
    (reaped,) = cost_imports_reap_abandoned()
    assert reaped.pk == running.pk and reaped.status == "failed"
    assert f"Its {rows_left:,} line item(s) written so far were deleted" in reaped.error_message
    assert store.load_table_import_ids() == set()
