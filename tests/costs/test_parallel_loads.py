"""A delivery of several files loads as one job per file (issue 13, point 4): in-process through
the same jobs (eager, their commits captured) and through a real broker and worker."""

import shutil
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from costs.choices import CostImportStatusChoices, LoadFileStatusChoices
from costs.ingest import store, writer
from costs.ingest.errors import CostImportError
from costs.models import CostImport, CostLoad, CostLoadFile, cost_import_root
from costs.selectors.imports import line_item_totals
from costs.services.imports import cost_import_run
from portal.models import JobRun
from tests.costs.billing_files import FOCUS_COLUMNS, focus_rows, write_csv

NOV = date(2026, 11, 1)


def delivery(folder: Path, *, files: int = 3, rows: int = 12, currency_of=lambda index: "USD") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        write_csv(
            folder / f"part-{index:05d}.csv.gz",
            FOCUS_COLUMNS,
            focus_rows(NOV, count=rows, salt=index, currency=currency_of(index)),
            gz=True,
        )
    return folder


@pytest.fixture
def as_jobs(monkeypatch):
    """Every delivery of several files goes through the file jobs, as with real workers."""
    monkeypatch.setattr(writer, "runs_files_in_parallel", lambda unit: len(unit.parts) > 1)


def test_each_file_loads_in_a_job_of_its_own_and_the_last_one_makes_the_period_current(
    tmp_path, make_source, as_jobs, django_capture_on_commit_callbacks
):
    source = make_source()
    folder = delivery(tmp_path / "november")
    with django_capture_on_commit_callbacks(execute=True):
        outcome = cost_import_run(source=source, location=str(folder))
    assert outcome.queued and not outcome.imports
    load = CostLoad.objects.get()
    files = list(load.files.order_by("position"))
    assert [item.status for item in files] == [LoadFileStatusChoices.LOADED] * 3
    assert [item.rows for item in files] == [12, 12, 12]
    assert all(item.job_run.status == "succeeded" for item in files)
    (current,) = CostImport.objects.filter(is_current=True)
    assert current.load == load and current.row_count == 36
    stored = Decimal(current.totals["USD"]["billed"])
    assert line_item_totals(current)["USD"]["billed"] == stored
    assert [record["name"] for record in current.files] == [
        str(folder / f"part-{i:05d}.csv.gz") for i in range(3)
    ]
    # The file that loaded last finished the delivery and asked for its allocation.
    assert "Every file of the delivery has loaded" in " ".join(
        files[-1].job_run.log_lines.values_list("message", flat=True)
    )
    assert JobRun.objects.filter(task_name="costs.allocate_costs").exists()


def test_one_failing_file_fails_the_delivery_and_keeps_the_current_period(
    tmp_path, make_source, as_jobs, django_capture_on_commit_callbacks
):
    source = make_source()
    (good,) = cost_import_run(source=source, location=str(delivery(tmp_path / "first", files=1))).imports
    folder = delivery(tmp_path / "second")
    broken = folder / "part-00001.csv.gz"
    broken.write_bytes(broken.read_bytes()[:-30])  # cut short: the gzip stream ends early
    with django_capture_on_commit_callbacks(execute=True):
        cost_import_run(source=source, location=str(folder))
    load = CostLoad.objects.latest("pk")
    assert load.status == CostImportStatusChoices.FAILED
    assert "the gzip stream ends early" in load.error_message and str(broken) in load.error_message
    statuses = [item.status for item in load.files.order_by("position")]
    assert statuses[:2] == [LoadFileStatusChoices.LOADED, LoadFileStatusChoices.FAILED]
    assert statuses[2] == LoadFileStatusChoices.STOPPED
    good.refresh_from_db()
    assert good.is_current and CostImport.objects.filter(is_current=True).count() == 1
    (failed,) = CostImport.objects.filter(load=load)
    assert failed.status == CostImportStatusChoices.FAILED and store.rows_in_load(failed.pk) == 0
    assert store.load_table_import_ids() <= {good.pk}


def test_a_currency_that_differs_between_files_names_both_places(tmp_path, make_source, as_jobs,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    source = make_source()
    folder = delivery(tmp_path / "mixed", files=2, currency_of=lambda index: "EUR" if index else "USD")
    with django_capture_on_commit_callbacks(execute=True):
        cost_import_run(source=source, location=str(folder))
    load = CostLoad.objects.get()
    assert load.status == CostImportStatusChoices.FAILED
    assert load.error_message == (
        f"{folder / 'part-00001.csv.gz'}, row 2, column BillingCurrency: currency EUR differs from USD used by "
        f"billing account 111122223333 (first seen in {folder / 'part-00000.csv.gz'}, row 2); a billing "
        "account is invoiced in one currency, so the export mixes currencies and cannot be reconciled."
    )
    assert not CostImport.objects.filter(is_current=True).exists()


def test_in_process_the_files_load_one_after_the_other_with_the_same_records(tmp_path, make_source):
    source = make_source()
    (item,) = cost_import_run(source=source, location=str(delivery(tmp_path / "inline", files=2))).imports
    assert item.row_count == 24 and item.load.files.filter(status=LoadFileStatusChoices.LOADED).count() == 2
    with pytest.raises(CostImportError):
        cost_import_run(source=source, location=str(tmp_path / "inline" / "missing.csv"))
    assert CostLoadFile.objects.count() == 2


@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_through_a_real_worker_every_file_loads_and_the_period_becomes_current(
    celery_worker_process, settings, make_source
):
    # The worker reads files below its own import root (it does not see this test's settings).
    settings.PROPYLON_COST_IMPORT_ROOT = ""
    folder = delivery(cost_import_root() / f"test-{uuid.uuid4().hex[:8]}", files=3, rows=20)
    assert cost_import_root() == Path(django_settings.DATA_DIR) / "cost-imports"
    try:
        source = make_source(name=f"Parallel {folder.name}")
        outcome = cost_import_run(source=source, location=str(folder))
        assert outcome.queued
        deadline = time.monotonic() + 90
        while not CostImport.objects.filter(source=source, is_current=True).exists():
            load = CostLoad.objects.get(source=source)
            assert load.status != CostImportStatusChoices.FAILED, load.error_message
            assert time.monotonic() < deadline, list(load.files.values_list("status", flat=True))
            time.sleep(0.3)
        current = CostImport.objects.get(source=source, is_current=True)
        assert current.row_count == 60
        assert line_item_totals(current)["USD"]["billed"] == Decimal(current.totals["USD"]["billed"])
        workers = {item.job_run.worker for item in current.load.files.all()}
        assert all(worker.endswith(f":{celery_worker_process['process'].pid}") for worker in workers)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_import_page_shows_each_files_progress_then_the_checked_totals(
    tmp_path, make_source, admin_user, client
):
    from costs.ingest import plan
    from costs.services.allocation_engine import allocate_period

    source = make_source()
    folder = delivery(tmp_path / "progress", files=2)
    (unit,) = plan.plan_focus(source, str(folder))
    load = CostLoad.objects.create(source=source, format=unit.format, location=str(folder), identifier="x")
    first, second = (
        CostLoadFile.objects.create(load=load, position=index, name=part.name, address=part.address)
        for index, part in enumerate(unit.parts)
    )
    writer.load_file(first, unit.parts[0])  # the second file's job has not started yet
    running = CostImport.objects.get(load=load)
    client.force_login(admin_user)
    page = client.get(f"/costs/imports/{running.pk}/").content.decode()
    assert "Each file loads in a job" in page
    assert (
        page.index(first.name)
        < page.index("Loaded")
        < page.index(second.name)
        < page.index("Waiting for a worker")
    )

    writer.load_file(second, unit.parts[1])
    (current,), _ = writer.finish_load(load)
    page = client.get(f"/costs/imports/{current.pk}/").content.decode()
    assert "as the allocation summed them" not in page  # not allocated yet: nothing to check against
    allocate_period(source=source, period=NOV)
    page = client.get(f"/costs/imports/{current.pk}/").content.decode()
    assert "as the allocation summed them" in page and "Yes, to the cent" in page


def test_the_dimension_caches_start_over_past_their_bound_and_ids_stay_right(
    tmp_path, make_source, monkeypatch
):
    """Memory follows the batch, not the file: past MAX_CACHED values a dimension's cache is
    emptied, and values met again are found again (never stored twice), with the same rows as
    an import whose caches never emptied."""
    from costs.ingest import dimensions
    from costs.models import BillingProfile, BillingResource
    from costs.selectors.imports import line_item_details

    folder = delivery(tmp_path / "bounded", files=2)
    (unbounded,) = cost_import_run(source=make_source("Unbounded"), location=str(folder)).imports
    resources, profiles = BillingResource.objects.count(), BillingProfile.objects.count()
    monkeypatch.setattr(dimensions, "MAX_CACHED", 3)
    (bounded,) = cost_import_run(source=make_source("Bounded"), location=str(folder)).imports
    assert (BillingResource.objects.count(), BillingProfile.objects.count()) == (resources, profiles)

    def rows(item):
        return [{k: v for k, v in row.items() if k not in ("id", "cost_import_id", "source_id")}
                for row in line_item_details(cost_import=item)]  # fmt: skip

    assert rows(bounded) == rows(unbounded) and len(rows(bounded)) == 24
