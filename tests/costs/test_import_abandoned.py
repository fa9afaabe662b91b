"""Issue 10 item 10 in one process: which "running" imports are abandoned (process gone from this
host, or heartbeat stale on any host), what the nightly run does with them, and a live import
that was taken for abandoned meanwhile cannot become current. The SIGKILL of a real import is
in test_import_processes.py."""

import socket
import subprocess
from datetime import date, timedelta

import pyarrow as pa
import pytest
from django.utils import timezone

from costs.choices import CostImportStatusChoices
from costs.ingest import store, writer
from costs.ingest.errors import CostImportError
from costs.models import CostImport, CostLineItem
from costs.services.imports import cost_import_run
from costs.tasks import import_all_sources
from portal.models import JobLogLine
from tests.costs.billing_files import FOCUS_COLUMNS, write_csv
from tests.costs.cost_data import line

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


@pytest.fixture
def current(tmp_path, make_source):
    path = write_csv(tmp_path / "nov.csv", FOCUS_COLUMNS, [line(NOV, "10"), line(NOV, "5", day=2)])
    source = make_source(location=str(tmp_path))
    (item,) = cost_import_run(source=source, location=str(path)).imports
    return item


def running_import(current, *, worker: str, minutes_ago: int) -> CostImport:
    """A "running" import with line items, as a killed process leaves it."""
    item = CostImport.objects.create(
        source=current.source,
        format="focus",
        billing_period_start=NOV,
        billing_period_end=date(2026, 12, 1),
        status=CostImportStatusChoices.RUNNING,
        worker=worker,
        heartbeat_at=timezone.now() - timedelta(minutes=minutes_ago),
    )
    rows = list(CostLineItem.objects.filter(cost_import=current).values(*store.NARROW_SCHEMA.names))
    for number, row in enumerate(rows):
        row["id"], row["cost_import_id"] = store.line_item_ids(item.pk, 0, number, 1)[0], item.pk
    store.prepare(item.pk)
    store.write(item.pk, pa.Table.from_pylist(rows, schema=store.NARROW_SCHEMA))
    return item


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_the_nightly_run_fails_abandoned_imports_and_deletes_their_rows(current, run_job, settings):
    settings.PROPYLON_COST_IMPORT_ABANDONED_MINUTES = 15
    stale = running_import(current, worker="worker-7:4242:99", minutes_ago=20)
    gone = running_import(current, worker=f"{socket.gethostname()}:{dead_pid()}:1", minutes_ago=0)
    alive = running_import(current, worker="worker-8:4243:99", minutes_ago=1)

    run = run_job(import_all_sources)

    stale.refresh_from_db()
    gone.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == gone.status == CostImportStatusChoices.FAILED
    assert stale.error_message.startswith("Abandoned: no sign of life since ")
    assert gone.error_message.startswith(f"Abandoned: the process that ran it ({socket.gethostname()}:")
    assert "Its 2 line item(s) written so far were deleted" in stale.error_message
    assert store.rows_in_load(stale.pk) == store.rows_in_load(gone.pk) == 0
    assert alive.status == CostImportStatusChoices.RUNNING
    assert store.rows_in_load(alive.pk) == 2
    current.refresh_from_db()
    assert current.is_current and CostLineItem.objects.filter(cost_import=current).count() == 2
    logged = JobLogLine.objects.filter(job=run, level="warning").values_list("message", flat=True)
    assert {m.split(":")[0] for m in logged} == {
        f"Import #{stale.pk} of Billing",
        f"Import #{gone.pk} of Billing",
    }
    store.discard(alive.pk)


def test_an_import_taken_for_abandoned_meanwhile_cannot_become_current(tmp_path, current, monkeypatch):
    path = write_csv(tmp_path / "nov-2.csv", FOCUS_COLUMNS, [line(NOV, "7"), line(NOV, "8", day=3)])
    real_finish = writer.finish_load

    def reaped_first(load):
        CostImport.objects.filter(load=load).update(
            status=CostImportStatusChoices.FAILED, error_message="Abandoned: no sign of life since then."
        )
        return real_finish(load)

    monkeypatch.setattr(writer, "finish_load", reaped_first)
    with pytest.raises(CostImportError, match="was stopped meanwhile: Abandoned"):
        cost_import_run(source=current.source, location=str(path))
    current.refresh_from_db()
    assert current.is_current
    assert set(CostLineItem.objects.values_list("cost_import", flat=True)) == {current.pk}


def test_a_running_import_page_shows_its_last_sign_of_life(current, admin_user, client):
    running = running_import(current, worker="worker-8:4243:99", minutes_ago=3)
    client.force_login(admin_user)
    body = client.get(f"/costs/imports/{running.pk}/").content.decode()
    assert "Last sign of life" in body and f"{running.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC" in body
    assert "from worker-8:4243:99" in body
    store.discard(running.pk)
