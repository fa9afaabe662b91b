"""The use case's "Maturity" tab, reassessing and the evidence forms."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from approvals.choices import AssessmentTriggerChoices
from approvals.models import MaturityAssessment, MaturityEvidence
from approvals.services import maturity
from inventory.choices import VisibilityChoices
from inventory.services import usecases as inventory_services

pytestmark = pytest.mark.django_db


def maturity_tab(use_case):
    return use_case.get_absolute_url() + "?tab=maturity"


def test_never_assessed_shows_an_honest_empty_state(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    page = login(support_team.lead).get(maturity_tab(use_case))
    body = page.content.decode()
    assert page.status_code == 200 and "Not assessed yet" in body and "Assess now" in body
    assert "maturity-chart-data" not in body  # no chart without numbers
    assert "Monitoring &amp; drift" in body  # the rubric is still shown, check by check


def test_the_tab_shows_vector_level_checks_gaps_evidence_and_trend(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    evidence = maturity.evidence_add(
        use_case=use_case, check_key="documentation.model_card", actor=support_team.lead,
        url="https://wiki.example.com/model-card",
    )  # fmt: skip
    maturity.maturity_assess(use_case=use_case, trigger=AssessmentTriggerChoices.MANUAL)
    inventory_services.usecase_update(use_case=use_case, actor=None, runbook_url="https://rb.example.com/")
    maturity.maturity_assess(use_case=use_case, trigger=AssessmentTriggerChoices.FACT_CHANGE)
    page = login(support_team.lead).get(maturity_tab(use_case))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'id="maturity-chart-data"' in body and "vendor/plotly/plotly.min.js" in body
    assert "approvals/maturity.js" in body and "<script>" not in body  # CSP: no inline script
    assert "Level 0" in body and "Ad hoc" in body and "To reach the next level" in body
    assert "https://wiki.example.com/model-card" in body and evidence.sha256[:10] in body
    assert "Withdraw" in body and "Reassess now" in body
    assert "v2" in body and "Facts changed" in body
    chart = page.context["maturity_chart"]
    assert len(chart["trend"]["readiness"]) == 2 and len(chart["scores"]) == 9
    assert chart["trend"]["series"][0]["name"] == "Ownership"


def test_an_earlier_version_can_be_shown(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    maturity.maturity_assess(use_case=use_case, trigger=AssessmentTriggerChoices.MANUAL)
    maturity.maturity_assess(use_case=use_case, trigger=AssessmentTriggerChoices.MANUAL)
    page = login(support_team.lead).get(maturity_tab(use_case) + "&version=1")
    assert page.context["maturity_assessment"].version == 1
    assert "an earlier version; the latest is version 2" in page.content.decode()


def test_readers_see_but_get_no_forms(login, executive, support_team, file_use_case):
    use_case = file_use_case(support_team)
    maturity.evidence_add(use_case=use_case, check_key="ownership.handover_plan", actor=None, note="Plan")
    maturity.maturity_assess(use_case=use_case, trigger=AssessmentTriggerChoices.MANUAL)
    body = login(executive).get(maturity_tab(use_case)).content.decode()
    assert (
        "Plan" in body
        and "Reassess now" not in body
        and "Withdraw" not in body
        and "Add evidence" not in body
    )


def test_reassess_now_records_a_manual_version(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    client = login(support_team.lead)
    response = client.post(reverse("approvals:maturity-reassess", args=[use_case.key]))
    assert response.status_code == 302 and response["Location"] == maturity_tab(use_case)
    assessment = MaturityAssessment.objects.get()
    assert assessment.trigger == "manual" and assessment.assessed_by == support_team.lead
    assert client.get(reverse("approvals:maturity-reassess", args=[use_case.key])).status_code == 405


def test_adding_a_note_link_and_file_through_the_form(login, support_team, file_use_case, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    use_case = file_use_case(support_team)
    client = login(support_team.lead)
    url = reverse("approvals:maturity-evidence-add", args=[use_case.key])
    form = client.get(url + "?check=documentation.model_card")
    assert form.status_code == 200 and form.context["form"].initial == {
        "check_key": "documentation.model_card"
    }
    assert 'enctype="multipart/form-data"' in form.content.decode()
    for data in (
        {"check_key": "documentation.model_card", "kind": "note", "note": "Card reviewed by the CoE."},
        {"check_key": "documentation.model_card", "kind": "link", "url": "https://wiki.example.com/card"},
        {
            "check_key": "documentation.model_card",
            "kind": "file",
            "file": SimpleUploadedFile("card.md", b"# Card"),
        },
    ):
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"] == maturity_tab(use_case), (
            response.content
        )
    assert sorted(MaturityEvidence.objects.values_list("kind", flat=True)) == ["file", "link", "note"]
    assert (tmp_path / MaturityEvidence.objects.get(kind="file").file.name).read_bytes() == b"# Card"


def test_bad_evidence_shows_the_field_error(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    url = reverse("approvals:maturity-evidence-add", args=[use_case.key])
    client = login(support_team.lead)
    page = client.post(url, {"check_key": "documentation.model_card", "kind": "link", "url": ""})
    assert page.status_code == 200 and page.context["form"].errors == {"url": ["Give the link."]}
    page = client.post(
        url,
        {"check_key": "documentation.model_card", "kind": "file", "file": SimpleUploadedFile("x.exe", b"MZ")},
    )
    assert page.status_code == 200 and "file" in page.context["form"].errors
    assert MaturityEvidence.objects.count() == 0


def test_withdrawing_through_the_tab(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    evidence = maturity.evidence_add(
        use_case=use_case, check_key="ownership.handover_plan", actor=None, note="x"
    )
    client = login(support_team.lead)
    url = reverse("approvals:maturity-evidence-withdraw", args=[use_case.key, evidence.pk])
    assert client.post(url).status_code == 302
    evidence.refresh_from_db()
    assert evidence.withdrawn_by == support_team.lead
    again = client.post(url, follow=True)
    assert "already withdrawn" in again.content.decode()


def test_other_teams_may_not_write(login, legal_team, support_team, file_use_case):
    use_case = file_use_case(support_team)
    evidence = maturity.evidence_add(
        use_case=use_case, check_key="ownership.handover_plan", actor=None, note="x"
    )
    client = login(legal_team.lead)
    assert client.post(reverse("approvals:maturity-reassess", args=[use_case.key])).status_code == 403
    assert client.get(reverse("approvals:maturity-evidence-add", args=[use_case.key])).status_code == 403
    withdraw = reverse("approvals:maturity-evidence-withdraw", args=[use_case.key, evidence.pk])
    assert client.post(withdraw).status_code == 403


def test_restricted_use_cases_are_404_for_other_teams(login, legal_team, support_team, file_use_case):
    use_case = file_use_case(support_team, visibility=VisibilityChoices.RESTRICTED)
    evidence = maturity.evidence_add(
        use_case=use_case, check_key="ownership.handover_plan", actor=None, note="x"
    )
    client = login(legal_team.lead)
    assert client.get(maturity_tab(use_case)).status_code == 404
    assert client.post(reverse("approvals:maturity-reassess", args=[use_case.key])).status_code == 404
    assert client.get(reverse("approvals:maturity-evidence-add", args=[use_case.key])).status_code == 404
    withdraw = reverse("approvals:maturity-evidence-withdraw", args=[use_case.key, evidence.pk])
    assert client.post(withdraw).status_code == 404


def test_the_tab_query_count_does_not_grow_with_versions_or_evidence(
    login, support_team, file_use_case, django_assert_max_num_queries
):
    use_case = file_use_case(support_team)
    client = login(support_team.lead)
    client.get(maturity_tab(use_case))  # session, content types and the like are warm now
    for number in range(6):
        maturity.evidence_add(
            use_case=use_case,
            check_key="ownership.handover_plan",
            actor=support_team.lead,
            note=f"Plan {number}",
        )
        maturity.maturity_assess(use_case=use_case, trigger=AssessmentTriggerChoices.MANUAL)
    with django_assert_max_num_queries(12):
        page = client.get(maturity_tab(use_case))
    assert page.status_code == 200 and len(page.context["maturity_history"]) == 6


def test_evidence_files_download_only_for_people_who_see_the_use_case(
    login, legal_team, support_team, file_use_case, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    use_case = file_use_case(support_team, visibility=VisibilityChoices.RESTRICTED)
    evidence = maturity.evidence_add(
        use_case=use_case, check_key="documentation.model_card", actor=None,
        file=SimpleUploadedFile("card.pdf", b"%PDF-1.7 card"),
    )  # fmt: skip
    url = reverse("approvals:maturity-evidence-file", args=[use_case.key, evidence.pk])
    assert url in login(support_team.lead).get(maturity_tab(use_case)).content.decode()
    response = login(support_team.lead).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.7 card"
    assert response["Content-Disposition"].startswith("attachment")
    assert login(legal_team.lead).get(url).status_code == 404
