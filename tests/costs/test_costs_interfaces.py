"""The same import through the job (progress), the CLI, the API and the pages; secrets stay hidden."""

import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from costs.models import CostImport, CostLineItem, CostSource
from costs.selectors.imports import billing_totals, current_line_items
from costs.services.imports import cost_import_run
from costs.tasks import import_all_sources, import_cost_source
from portal.choices import ChannelChoices, JobStatusChoices
from portal.models import AuditEntry, JobRun
from tests.costs.billing_files import FOCUS_COLUMNS, focus_rows, write_csv, write_focus_parquet
from tests.costs.conftest import TEST_SECRET

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)


@pytest.fixture
def focus_file(tmp_path):
    return write_csv(tmp_path / "focus.csv.gz", FOCUS_COLUMNS, focus_rows(NOV, count=25), gz=True)


def test_the_job_reports_progress_and_its_result(
    run_job, admin_user, make_source, focus_file, settings, monkeypatch
):
    settings.PROPYLON_COST_IMPORT_BATCH_ROWS = 5
    seen = []
    from portal.jobs import JobContext

    original = JobContext.progress

    def spy(self, percent, message=""):
        seen.append((int(percent), message))
        return original(self, percent, message)

    monkeypatch.setattr(JobContext, "progress", spy)
    source = make_source(location=str(focus_file))
    run = run_job(import_cost_source, actor=admin_user, channel=ChannelChoices.UI, source_id=source.pk)
    assert run.status == JobStatusChoices.SUCCEEDED and run.progress == 100
    assert run.result["rows"] == 25 and run.result["periods"] == ["2026-11"]
    assert any("line items written" in message for _, message in seen)
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)  # the bar only moves forward
    cost_import = CostImport.objects.get(is_current=True)
    assert cost_import.job_run == run and cost_import.started_by == admin_user.username


def test_a_failing_job_shows_the_file_row_and_column(run_job, admin_user, make_source, tmp_path):
    rows = focus_rows(NOV, count=4)
    rows[1]["BilledCost"] = "ten"
    path = write_csv(tmp_path / "bad.csv", FOCUS_COLUMNS, rows)
    source = make_source(location=str(path))
    run = run_job(import_cost_source, actor=admin_user, source_id=source.pk)
    assert run.status == JobStatusChoices.FAILED
    assert run.error == f"{path}, row 3, column BilledCost: “ten” is not a number."
    assert "Traceback" not in run.error


def test_the_daily_job_imports_every_enabled_source_with_a_location(
    run_job, make_source, focus_file, tmp_path
):
    make_source(name="Folder", location=str(focus_file))
    make_source(name="Uploads only")
    make_source(name="Disabled", location=str(focus_file), enabled=False)
    run = run_job(import_all_sources)
    assert run.status == JobStatusChoices.SUCCEEDED and len(run.result["jobs"]) == 1
    child = JobRun.objects.get(pk=run.result["jobs"][0])
    assert child.status == JobStatusChoices.SUCCEEDED and child.arguments == {
        "source_id": CostSource.objects.get(name="Folder").pk
    }
    assert CostImport.objects.filter(is_current=True).count() == 1


def test_the_daily_schedule_is_registered():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="costs.import_all_sources")
    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("6", "30")


def test_the_command_imports_with_progress_and_is_idempotent(make_source, focus_file):
    make_source(name="FOCUS", location="")
    out = io.StringIO()
    call_command("import_costs", "--format", "focus", str(focus_file), stdout=out)
    text = out.getvalue()
    assert "  0%  Reading" in text and "2026-11: 25 line items" in text
    again = io.StringIO()
    call_command("import_costs", "--format", "focus", str(focus_file), "--source", "FOCUS", stdout=again)
    assert "Unchanged:" in again.getvalue()
    assert CostImport.objects.count() == 1


def test_the_command_reports_bad_input_without_a_traceback(make_source, tmp_path):
    make_source(name="FOCUS")
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(CommandError) as raised:
        call_command("import_costs", "--format", "focus", str(missing), stdout=io.StringIO())
    assert str(raised.value) == f"Import failed, nothing changed: {missing}: does not exist."
    with pytest.raises(CommandError, match="Several cost sources"):
        make_source(name="FOCUS 2")
        call_command("import_costs", "--format", "focus", str(missing), stdout=io.StringIO())
    with pytest.raises(CommandError, match="its format is focus, not cur"):
        call_command(
            "import_costs", "--format", "cur", str(missing), "--source", "FOCUS", stdout=io.StringIO()
        )


#
# API
#


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_the_secret_key_is_write_only_in_the_api_and_the_audit_trail(api):
    response = api.post(
        "/api/cost-sources/",
        {
            "name": "CUR",
            "kind": "aws_cur",
            "location": "s3://b/cur/r",
            "access_key_id": "AKIAX",
            "secret_access_key": TEST_SECRET,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert "secret_access_key" not in response.json() and response.json()["has_secret"] is True
    source_id = response.json()["id"]
    assert TEST_SECRET not in api.get(f"/api/cost-sources/{source_id}/").content.decode()
    # Changing something else keeps the secret; it never reaches the audit trail.
    assert api.patch(f"/api/cost-sources/{source_id}/", {"enabled": False}, format="json").status_code == 200
    assert CostSource.objects.get(pk=source_id).secret_access_key == TEST_SECRET
    assert not any(TEST_SECRET in str(entry.changes) for entry in AuditEntry.objects.all())
    half = api.patch(f"/api/cost-sources/{source_id}/", {"secret_access_key": ""}, format="json")
    assert half.status_code == 400 and "access_key_id" in half.json()


def test_run_and_upload_through_the_api(
    api, make_source, focus_file, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.DATA_DIR = tmp_path / "data"
    source = make_source(location=str(focus_file))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/cost-imports/run/", {"source": source.pk}, format="json")
    response.data["status"] = JobRun.objects.get(pk=response.json()["id"]).status  # the job ran on commit
    assert response.status_code == 202 and response.data["status"] == "succeeded"
    listed = api.get("/api/cost-imports/", {"source": source.pk, "is_current": True}).json()["results"]
    assert listed[0]["row_count"] == 25 and listed[0]["totals"]["USD"]["rows"] == 25

    parquet = write_focus_parquet(tmp_path / "dec.parquet", focus_rows(DEC, count=7))
    with parquet.open("rb") as handle, django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/cost-imports/upload/", {"source": source.pk, "file": handle}, format="multipart"
        )
    assert response.status_code == 202, response.content
    run = JobRun.objects.get(pk=response.json()["id"])
    assert run.status == "succeeded" and run.result["rows"] == 7
    assert not list((tmp_path / "data" / "cost-uploads").iterdir())  # the stored upload is removed
    totals = billing_totals(source=source, period_start=NOV, period_end=date(2027, 1, 1))
    assert totals["USD"]["rows"] == 32


def test_an_upload_that_is_not_focus_is_refused_with_a_message(api, make_source, tmp_path, settings):
    settings.DATA_DIR = tmp_path
    source = make_source()
    fake = SimpleUploadedFile(
        "costs.parquet", b"PK\x03\x04 this is a zip", content_type="application/octet-stream"
    )
    response = api.post("/api/cost-imports/upload/", {"source": source.pk, "file": fake}, format="multipart")
    assert response.status_code == 400
    assert response.json() == {
        "file": [
            "costs.parquet: is not a FOCUS export: upload a .csv (UTF-8), .csv.gz (gzip) or .parquet file."
        ]
    }
    assert not JobRun.objects.filter(task_name="costs.import_cost_source").exists()


def test_people_without_the_admin_role_cannot_run_imports(make_user, make_source):
    from portal.roles import Role

    source = make_source()
    client = APIClient()
    client.force_authenticate(make_user("claire", Role.EXECUTIVE))
    assert client.post("/api/cost-imports/run/", {"source": source.pk}, format="json").status_code == 403
    assert client.get("/api/cost-imports/").status_code == 200


#
# Pages
#


def test_source_pages_never_show_the_secret(login, admin_user, make_source):
    source = make_source(
        name="CUR",
        kind="aws_cur",
        location="s3://b/cur/r",
        access_key_id="AKIAX",
        secret_access_key=TEST_SECRET,
    )
    client = login(admin_user)
    detail = client.get(f"/costs/sources/{source.pk}/").content.decode()
    edit = client.get(f"/costs/sources/{source.pk}/edit/").content.decode()
    assert TEST_SECRET not in detail and TEST_SECRET not in edit
    assert "with a stored secret (never shown)" in detail and "Forget the stored secret" in edit
    form = {"name": "CUR", "kind": "aws_cur", "location": "s3://b/cur/r", "enabled": "on", "use_case_tag_key": "use-case",
            "access_key_id": "AKIAX", "secret_access_key": ""}  # fmt: skip
    assert client.post(f"/costs/sources/{source.pk}/edit/", form).status_code == 302
    source.refresh_from_db()
    assert source.secret_access_key == TEST_SECRET  # empty field: kept


def test_import_now_and_the_import_page(
    login, admin_user, make_source, focus_file, django_capture_on_commit_callbacks
):
    source = make_source(location=str(focus_file))
    client = login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/costs/sources/{source.pk}/import/")
    run = JobRun.objects.get(task_name="costs.import_cost_source")
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    cost_import = CostImport.objects.get()
    page = client.get(f"/costs/imports/{cost_import.pk}/").content.decode()
    assert cost_import.totals["USD"]["billed"] in page and "Yes, to the cent" in page
    assert str(focus_file) in page
    listing = client.get("/costs/imports/", {"source": source.pk}).content.decode()
    assert f"/costs/imports/{cost_import.pk}/" in listing


def test_the_upload_page_imports_and_shows_bad_files(
    login, admin_user, make_source, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.DATA_DIR = tmp_path
    source = make_source()
    client = login(admin_user)
    assert "Upload and import" in client.get(f"/costs/sources/{source.pk}/upload/").content.decode()
    rows = focus_rows(NOV, count=5)
    rows[3]["BilledCost"] = "1.2.3"
    path = write_csv(tmp_path / "november.csv", FOCUS_COLUMNS, rows)
    upload = SimpleUploadedFile("november.csv", path.read_bytes(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/costs/sources/{source.pk}/upload/", {"file": upload})
    run = JobRun.objects.get(task_name="costs.import_cost_source")
    assert response.status_code == 302 and run.status == JobStatusChoices.FAILED
    assert run.error.endswith("november.csv, row 5, column BilledCost: “1.2.3” is not a number.")
    failed = CostImport.objects.get()
    assert failed.status == "failed" and not CostLineItem.objects.exists()
    page = client.get(f"/costs/imports/{failed.pk}/").content.decode()
    assert "is not a number" in page and "nothing of this one was kept" in page
    wrong = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    shown = client.post(f"/costs/sources/{source.pk}/upload/", {"file": wrong}).content.decode()
    assert "is not a FOCUS export" in shown


def test_team_people_have_no_billing_pages(login, team_member, make_source):
    source = make_source()
    client = login(team_member)
    assert client.get("/costs/sources/").status_code == 403
    assert client.get(f"/costs/sources/{source.pk}/").status_code == 404
    assert client.get("/costs/imports/").status_code == 403


def test_billing_totals_keep_currencies_apart_and_read_only_current_imports(make_source, tmp_path):
    source = make_source(location=str(tmp_path))
    usd = write_csv(tmp_path / "usd.csv", FOCUS_COLUMNS, focus_rows(NOV, count=4))
    eur = write_csv(
        tmp_path / "eur.csv", FOCUS_COLUMNS, focus_rows(NOV, count=3, currency="EUR", account="EU1")
    )
    cost_import_run(source=source, location=str(usd))
    other = make_source(name="Azure", location=str(eur))
    cost_import_run(source=other)
    everything = billing_totals(period_start=NOV, period_end=DEC)
    assert set(everything) == {"EUR", "USD"} and everything["EUR"]["rows"] == 3
    assert set(billing_totals(source=source, period_start=NOV, period_end=DEC)) == {"USD"}
    assert billing_totals(period_start=DEC, period_end=date(2027, 1, 1)) == {}
    assert isinstance(everything["USD"]["billed"], Decimal)
    assert current_line_items(source=other, period_start=NOV, period_end=DEC).count() == 3
