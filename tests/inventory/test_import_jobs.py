"""Issue 10, item 14: a web request reads a bounded amount; larger imports run as a job with a
preview and progress on the import page (and on /jobs/)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inventory.models import UseCase
from inventory.services import importing
from portal.choices import JobStatusChoices
from portal.models import JobRun

pytestmark = pytest.mark.django_db

HEADER = "name,purpose,team,accountable_owner,ai_kind,data_sensitivity\n"


def sheet(count: int) -> bytes:
    rows = "".join(
        f"Use case {n},Does {n}.,support-automation,lena,generative,internal\n" for n in range(count)
    )
    return (HEADER + rows).encode()


@pytest.fixture
def small_requests(monkeypatch):
    monkeypatch.setattr(importing, "MAX_REQUEST_ROWS", 5)


@pytest.fixture
def request_reads(monkeypatch):
    """The rows each parse_upload call was allowed to read, from the web request or from a job."""
    seen = []
    parse = importing.parse_upload

    def spy(uploaded_file, filename, *, limits=None):
        seen.append((limits or importing.ImportLimits.full()).rows)
        return parse(uploaded_file, filename, limits=limits)

    monkeypatch.setattr(importing, "parse_upload", spy)
    monkeypatch.setattr("inventory.views.transfer.parse_upload", spy)
    monkeypatch.setattr("inventory.tasks.parse_upload", spy)
    return seen


def test_a_large_file_is_checked_then_imported_by_jobs(
    login, support_team, small_requests, request_reads, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    client = login(support_team.lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("inventory:usecase-import"), {"file": SimpleUploadedFile("big.csv", sheet(12))}
        )
    check = JobRun.objects.get(task_name="inventory.check_use_case_import")
    assert response.status_code == 302 and response["Location"].endswith(f"?job={check.pk}")
    # The request stopped at its own limit; the job read the whole file.
    assert request_reads == [5, importing.MAX_IMPORT_ROWS]
    assert check.status == JobStatusChoices.SUCCEEDED and check.actor == support_team.lead
    assert not UseCase.objects.exists()

    page = client.get(response["Location"]).content.decode()
    assert "Checked big.csv" in page and "12 to create, 0 to update, 0 unchanged." in page
    assert "The first" not in page and "Import 12 rows" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("inventory:usecase-import-commit"), {"job": check.pk})
    run = JobRun.objects.get(task_name="inventory.import_use_cases")
    assert run.status == JobStatusChoices.SUCCEEDED, run.error
    assert UseCase.objects.count() == 12
    assert run.result == {"filename": "big.csv", "created": 12, "updated": 0, "unchanged": 0}
    assert not list((tmp_path / "usecase-imports").iterdir())  # the stored upload is gone
    page = client.get(response["Location"]).content.decode()
    assert "Imported big.csv: 12 created, 0 updated, 0 unchanged." in page

    # A check imports once.
    response = client.post(reverse("inventory:usecase-import-commit"), {"job": check.pk}, follow=True)
    assert "cannot be imported" in response.content.decode() and UseCase.objects.count() == 12


def test_a_job_reports_the_problems_and_nothing_is_offered_for_import(
    login, support_team, small_requests, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    client = login(support_team.lead)
    content = sheet(8).replace(b"Use case 3,Does 3.,support-automation", b"Use case 3,Does 3.,nowhere")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("inventory:usecase-import"), {"file": SimpleUploadedFile("bad.csv", content)}
        )
    page = client.get(response["Location"]).content.decode()
    assert "1 problem" in page and "unknown team" in page and "Import 8 rows" not in page


def test_someone_elses_import_job_is_not_found(
    login, support_team, legal_team, small_requests, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        response = login(support_team.lead).post(
            reverse("inventory:usecase-import"), {"file": SimpleUploadedFile("big.csv", sheet(8))}
        )
    other = login(legal_team.lead)
    assert other.get(response["Location"]).status_code == 404
    check = JobRun.objects.get()
    assert other.post(reverse("inventory:usecase-import-commit"), {"job": check.pk}).status_code == 404


def test_a_padded_xlsx_too_large_for_the_request_is_refused_by_the_job(
    login, support_team, django_capture_on_commit_callbacks, settings, tmp_path
):
    import io

    import openpyxl

    settings.DATA_DIR = tmp_path
    workbook = openpyxl.Workbook()
    sheet_ = workbook.active
    sheet_.append(["Name", "Purpose", "Team", "Accountable Owner", "AI Kind", "Data Sensitivity"])
    for number in range(2, 10_002):
        sheet_.cell(row=number, column=16_384, value="x")
    buffer = io.BytesIO()
    workbook.save(buffer)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(support_team.lead).post(
            reverse("inventory:usecase-import"),
            {"file": SimpleUploadedFile("padded.xlsx", buffer.getvalue())},
        )
    run = JobRun.objects.get()
    assert run.status == JobStatusChoices.FAILED
    assert run.error.startswith("padded.xlsx has more than 5,000 rows")
    page = login(support_team.lead).get(response["Location"]).content.decode()
    assert "padded.xlsx has more than 5,000 rows" in page


def test_the_api_hands_a_large_import_to_a_job(
    support_team, small_requests, django_capture_on_commit_callbacks, settings, tmp_path
):
    from rest_framework.test import APIClient

    settings.DATA_DIR = tmp_path
    api = APIClient()
    api.force_authenticate(support_team.lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/use-cases/import/",
            {"file": SimpleUploadedFile("big.csv", sheet(9)), "commit": "true"},
            format="multipart",
        )
    assert response.status_code == 202, response.content
    run = JobRun.objects.get(pk=response.json()["id"])
    assert run.task_name == "inventory.import_use_cases" and run.status == JobStatusChoices.SUCCEEDED
    assert UseCase.objects.count() == 9
    assert api.get(f"/api/jobs/{run.pk}/").json()["result"]["created"] == 9
