"""/api/risk-catalog/, /api/risk-assessments/ and /api/risk-register/."""

import pytest
from rest_framework.test import APIClient

from approvals.models import RiskAssessment, RiskRegisterEntry
from approvals.services import risk as services
from inventory.choices import VisibilityChoices

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    def as_user(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return as_user


def add_risk(use_case, owner, **fields):
    values = {
        "title": "Wrong refund amounts",
        "category": "reliability",
        "likelihood": 3,
        "severity": 3,
        **fields,
    }
    return services.register_entry_create(use_case=use_case, actor=owner, owner=owner, **values)


def test_the_catalog_lists_every_question(api, support_team):
    response = api(support_team.lead).get("/api/risk-catalog/")
    assert response.status_code == 200
    questions = {q["id"]: q for section in response.json()["sections"] for q in section["questions"]}
    assert questions["role"]["required"] and questions["role"]["kind"] == "one_of"
    assert len(questions["genai_risks"]["options"]) == 12
    assert questions["prohibited_practices"]["options"][0]["reference"] == "Art 5(1)(a)"


def test_posting_answers_records_a_version(api, support_team, file_use_case):
    use_case = file_use_case(support_team)
    client = api(support_team.lead)
    response = client.post(
        "/api/risk-assessments/",
        {"use_case": use_case.key.lower(), "answers": {"role": "provider", "is_gpai": True}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["use_case"], body["version"], body["tier"], body["is_gpai"]) == (
        use_case.key,
        1,
        "minimal",
        True,
    )
    assert "Art 53(1)(a)" in [duty["reference"] for duty in body["duties"]]
    assert body["assessed_by"]["username"] == support_team.lead.username
    client.post(
        "/api/risk-assessments/", {"use_case": use_case.key, "answers": {"role": "both"}}, format="json"
    )
    listed = client.get("/api/risk-assessments/", {"use_case__key": use_case.key}).json()["results"]
    assert [row["version"] for row in listed] == [2, 1]
    use_case.refresh_from_db()
    assert use_case.risk_tier == "minimal"


def test_bad_answers_answer_400_naming_the_question_and_write_nothing(api, support_team, file_use_case):
    use_case = file_use_case(support_team)
    response = api(support_team.lead).post(
        "/api/risk-assessments/",
        {"use_case": use_case.key, "answers": {"role": "regulator", "profiling": True}},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["answers"]
    assert "'regulator' is not an option" in errors["role"][0]
    assert "“profiling” is not a question" in errors["profiling"][0]
    assert not RiskAssessment.objects.exists()


def test_who_may_record(api, support_team, legal_team, file_use_case, reviewer, executive, auditor):
    use_case = file_use_case(support_team)
    hidden = file_use_case(support_team, name="Fraud triage", visibility=VisibilityChoices.RESTRICTED)
    body = {"use_case": use_case.key, "answers": {"role": "deployer"}}
    assert api(reviewer).post("/api/risk-assessments/", body, format="json").status_code == 201
    for person in (executive, auditor, legal_team.lead):
        assert api(person).post("/api/risk-assessments/", body, format="json").status_code == 403
    missing = api(legal_team.lead).post(
        "/api/risk-assessments/", {"use_case": hidden.key, "answers": {"role": "deployer"}}, format="json"
    )
    assert missing.status_code == 400 and "use_case" in missing.json()  # hidden reads as missing
    assert RiskAssessment.objects.count() == 1


def test_assessments_are_never_changed_or_deleted(api, support_team, file_use_case, admin_user):
    assessment = services.risk_assessment_record(
        use_case=file_use_case(support_team), answers={"role": "both"}, actor=support_team.lead
    )
    client = api(admin_user)
    assert (
        client.patch(f"/api/risk-assessments/{assessment.pk}/", {"tier": "high"}, format="json").status_code
        == 405
    )
    assert client.delete(f"/api/risk-assessments/{assessment.pk}/").status_code == 405
    assert RiskAssessment.objects.get().tier == "minimal"


def test_a_restricted_use_cases_assessments_are_hidden_from_other_teams(
    api, support_team, legal_team, file_use_case
):
    hidden = file_use_case(support_team, visibility=VisibilityChoices.RESTRICTED)
    assessment = services.risk_assessment_record(
        use_case=hidden, answers={"role": "both"}, actor=support_team.lead
    )
    client = api(legal_team.lead)
    assert client.get(f"/api/risk-assessments/{assessment.pk}/").status_code == 404
    assert client.get("/api/risk-assessments/").json()["count"] == 0
    assert api(support_team.lead).get(f"/api/risk-assessments/{assessment.pk}/").status_code == 200


def test_register_crud_through_the_services(api, support_team, file_use_case):
    use_case = file_use_case(support_team)
    client = api(support_team.lead)
    created = client.post(
        "/api/risk-register/",
        {"use_case": use_case.key, "title": "Hallucinated policies", "category": "reliability", "likelihood": 4,
         "severity": 3, "owner": support_team.lead.username, "review_date": "2027-02-01"},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["inherent_score"], body["inherent_level"], body["residual_score"]) == (12, "high", 12)
    entry_url = f"/api/risk-register/{body['id']}/"
    changed = client.patch(
        entry_url, {"residual_likelihood": 1, "mitigation": "Cite the article."}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["residual_level"] == "low"
    refused = client.patch(entry_url, {"residual_severity": 5}, format="json")
    assert refused.status_code == 400
    assert refused.json()["residual_severity"] == [
        "The residual severity (5) may not exceed the severity before mitigation (3)."
    ]
    assert client.get("/api/risk-register/", {"use_case__key": use_case.key}).json()["count"] == 1
    assert client.delete(entry_url).status_code == 204
    assert not RiskRegisterEntry.objects.exists()


def test_register_rules_answer_400(api, support_team, file_use_case, make_user):
    use_case = file_use_case(support_team)
    make_user("dora", is_active=False)
    base = {"use_case": use_case.key, "title": "Outage", "category": "operational", "likelihood": 5, "severity": 4,
            "owner": support_team.lead.username}  # fmt: skip
    no_date = api(support_team.lead).post("/api/risk-register/", base, format="json")
    assert no_date.status_code == 400 and "needs a review date" in no_date.json()["review_date"][0]
    departed = api(support_team.lead).post("/api/risk-register/", {**base, "owner": "dora", "status": "accepted"},
                                           format="json")  # fmt: skip
    assert departed.status_code == 400 and "owner" in departed.json()
    out_of_range = api(support_team.lead).post(
        "/api/risk-register/", {**base, "likelihood": 9}, format="json"
    )
    assert out_of_range.status_code == 400 and "likelihood" in out_of_range.json()
    assert not RiskRegisterEntry.objects.exists()


def test_register_permissions(api, support_team, legal_team, file_use_case, executive, auditor, reviewer):
    use_case = file_use_case(support_team)
    hidden = file_use_case(support_team, name="Fraud triage", visibility=VisibilityChoices.RESTRICTED)
    entry, hidden_entry = add_risk(use_case, support_team.lead), add_risk(hidden, support_team.lead)
    for person in (executive, auditor, legal_team.lead):
        client = api(person)
        assert client.get(f"/api/risk-register/{entry.pk}/").status_code == 200
        assert (
            client.patch(f"/api/risk-register/{entry.pk}/", {"title": "x"}, format="json").status_code == 403
        )
        assert client.delete(f"/api/risk-register/{entry.pk}/").status_code == 403
    assert api(legal_team.lead).get(f"/api/risk-register/{hidden_entry.pk}/").status_code == 404
    assert api(legal_team.lead).delete(f"/api/risk-register/{hidden_entry.pk}/").status_code == 404
    assert (
        api(reviewer).patch(f"/api/risk-register/{entry.pk}/", {"title": "CoE"}, format="json").status_code
        == 200
    )
    assert RiskRegisterEntry.objects.count() == 2
