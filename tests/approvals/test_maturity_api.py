"""/api/maturity-rubric/, /api/use-cases/{key}/maturity/, /api/maturity-assessments/ and
/api/maturity-evidence/."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from approvals.catalogs.maturity import CHECKS
from approvals.choices import AssessmentTriggerChoices
from approvals.models import MaturityAssessment, MaturityEvidence
from approvals.services import maturity
from inventory.choices import VisibilityChoices

pytestmark = pytest.mark.django_db

MANUAL = AssessmentTriggerChoices.MANUAL


@pytest.fixture
def api():
    def as_user(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return as_user


def test_the_rubric_lists_levels_dimensions_and_checks(api, support_team):
    response = api(support_team.lead).get("/api/maturity-rubric/")
    assert response.status_code == 200
    data = response.json()
    assert [level["name"] for level in data["levels"]][:2] == ["Ad hoc", "Initial"]
    checks = [check for dimension in data["dimensions"] for check in dimension["checks"]]
    assert len(checks) == len(CHECKS) and checks[0]["automatic"] and checks[0]["max_points"] == "1.0"


def test_summary_before_and_after_assessing(api, support_team, file_use_case):
    use_case = file_use_case(support_team)
    client = api(support_team.lead)
    empty = client.get(f"/api/use-cases/{use_case.key}/maturity/").json()
    assert empty["assessment"] is None and empty["gaps"] == [] and empty["versions"] == []
    assert empty["next_level"]["number"] == 1 and empty["may_maintain"] is True
    created = client.post(f"/api/use-cases/{use_case.key}/maturity/assess/")
    assert (
        created.status_code == 201
        and created.json()["version"] == 1
        and created.json()["trigger"] == "manual"
    )
    client.post(f"/api/use-cases/{use_case.key}/maturity/assess/")
    summary = client.get(f"/api/use-cases/{use_case.key}/maturity/").json()
    assert summary["assessment"]["version"] == 2 and summary["assessment"]["readiness"] == "0.0"
    assert summary["level"]["name"] == "Ad hoc" and summary["next_level"]["name"] == "Initial"
    assert [item["version"] for item in summary["versions"]] == [1, 2]
    assert summary["gaps"][0]["target_level"] == 1 and summary["gaps"][0]["action"]
    result = summary["assessment"]["results"]["ownership.accountable_owner_active"]
    assert (result["status"], result["points"]) == ("verified", "1.0")


def test_assessments_list_filters_by_use_case(api, support_team, file_use_case):
    first, second = file_use_case(support_team), file_use_case(support_team, name="Agent assist")
    for use_case in (first, second, first):
        maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    response = api(support_team.lead).get("/api/maturity-assessments/", {"use_case__key": first.key})
    assert [row["version"] for row in response.json()["results"]] == [2, 1]
    detail = api(support_team.lead).get(f"/api/maturity-assessments/{response.json()['results'][0]['id']}/")
    assert detail.status_code == 200 and detail.json()["level_name"] == "Ad hoc"


def test_evidence_create_list_and_withdraw(api, support_team, file_use_case, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    use_case = file_use_case(support_team)
    client = api(support_team.lead)
    note = client.post(
        "/api/maturity-evidence/",
        {"use_case": use_case.key, "check_key": "ownership.handover_plan", "note": "Deputy named."},
        format="json",
    )
    assert note.status_code == 201, note.json()
    assert note.json()["sha256"] == hashlib.sha256(b"Deputy named.").hexdigest() and note.json()["is_active"]
    upload = client.post(
        "/api/maturity-evidence/",
        {"use_case": use_case.key, "check_key": "documentation.model_card",
         "file": SimpleUploadedFile("card.pdf", b"%PDF card")},
        format="multipart",
    )  # fmt: skip
    assert upload.status_code == 201 and upload.json()["kind"] == "file"
    assert upload.json()["sha256"] == hashlib.sha256(b"%PDF card").hexdigest()
    download = client.get(upload.json()["file"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF card"
    listed = client.get("/api/maturity-evidence/", {"use_case__key": use_case.key, "active": "true"}).json()
    assert listed["count"] == 2
    withdrawn = client.post(f"/api/maturity-evidence/{note.json()['id']}/withdraw/")
    assert withdrawn.status_code == 200 and withdrawn.json()["is_active"] is False
    assert client.post(f"/api/maturity-evidence/{note.json()['id']}/withdraw/").status_code == 400
    assert client.get("/api/maturity-evidence/", {"active": "true"}).json()["count"] == 1
    # Evidence is never edited or deleted.
    assert client.patch(f"/api/maturity-evidence/{note.json()['id']}/", {"note": "x"}).status_code == 405
    assert client.delete(f"/api/maturity-evidence/{note.json()['id']}/").status_code == 405


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"check_key": "nope.nope", "note": "x"}, "check_key"),
        ({"check_key": "ownership.handover_plan"}, "url"),
        ({"check_key": "ownership.handover_plan", "url": "https://a.example.com", "note": "x"}, "note"),
        ({"check_key": "ownership.handover_plan", "url": "not a url"}, "url"),
    ],
)
def test_bad_evidence_answers_400_naming_the_field(api, support_team, file_use_case, payload, field):
    use_case = file_use_case(support_team)
    response = api(support_team.lead).post(
        "/api/maturity-evidence/", {"use_case": use_case.key, **payload}, format="json"
    )
    assert response.status_code == 400 and field in response.json(), response.json()
    assert MaturityEvidence.objects.count() == 0


def test_other_teams_read_but_may_not_write(api, legal_team, support_team, file_use_case):
    use_case = file_use_case(support_team)
    evidence = maturity.evidence_add(
        use_case=use_case, check_key="ownership.handover_plan", actor=None, note="x"
    )
    client = api(legal_team.lead)
    assert client.get(f"/api/use-cases/{use_case.key}/maturity/").json()["may_maintain"] is False
    assert client.post(f"/api/use-cases/{use_case.key}/maturity/assess/").status_code == 403
    assert client.post(f"/api/maturity-evidence/{evidence.pk}/withdraw/").status_code == 403
    created = client.post(
        "/api/maturity-evidence/", {"use_case": use_case.key, "check_key": "ownership.handover_plan", "note": "y"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 403
    assert MaturityAssessment.objects.count() == 0


def test_restricted_use_cases_are_hidden(api, legal_team, support_team, file_use_case):
    use_case = file_use_case(support_team, visibility=VisibilityChoices.RESTRICTED)
    evidence = maturity.evidence_add(
        use_case=use_case, check_key="ownership.handover_plan", actor=None, note="x"
    )
    maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    client = api(legal_team.lead)
    assert client.get(f"/api/use-cases/{use_case.key}/maturity/").status_code == 404
    assert client.post(f"/api/use-cases/{use_case.key}/maturity/assess/").status_code == 404
    assert client.get(f"/api/maturity-evidence/{evidence.pk}/").status_code == 404
    assert client.get("/api/maturity-assessments/").json()["count"] == 0
    created = client.post(
        "/api/maturity-evidence/", {"use_case": use_case.key, "check_key": "ownership.handover_plan", "note": "y"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 400 and "use_case" in created.json()  # reads as missing


def test_auditors_read_only(api, auditor, support_team, file_use_case):
    use_case = file_use_case(support_team)
    client = api(auditor)
    assert client.get(f"/api/use-cases/{use_case.key}/maturity/").status_code == 200
    assert client.post(f"/api/use-cases/{use_case.key}/maturity/assess/").status_code == 403
