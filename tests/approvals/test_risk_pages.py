"""The questionnaire page, the register's forms and the use case's "Risk" tab."""

import pytest
from django.urls import reverse

from approvals.models import RiskAssessment, RiskRegisterEntry
from approvals.services import risk as services
from inventory.choices import RiskTierChoices, VisibilityChoices

pytestmark = pytest.mark.django_db


def questionnaire(use_case):
    return reverse("approvals:risk-questionnaire", args=[use_case.key])


def risk_tab(use_case):
    return use_case.get_absolute_url() + "?tab=risk"


def add_risk(use_case, owner, **fields):
    values = {
        "title": "Wrong refund amounts",
        "category": "reliability",
        "likelihood": 3,
        "severity": 3,
        **fields,
    }
    return services.register_entry_create(use_case=use_case, actor=owner, owner=owner, **values)


def test_the_questionnaire_posts_a_new_version_and_returns_to_the_risk_tab(
    login, support_team, file_use_case
):
    use_case = file_use_case(support_team)
    client = login(support_team.lead)
    page = client.get(questionnaire(use_case))
    assert page.status_code == 200
    assert "Art 5(1)(a)" in page.content.decode() and "GAI-2.12" in page.content.decode()
    response = client.post(
        questionnaire(use_case),
        {"role": "provider", "annex_iii_areas": ["employment"], "interacts_with_people": "yes", "is_gpai": "no",
         "genai_risks": ["confabulation", "harmful_bias"]},
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == risk_tab(use_case)
    assessment = RiskAssessment.objects.get()
    assert (assessment.version, assessment.tier, assessment.assessed_by) == (1, "high", support_team.lead)
    assert assessment.genai_risks == ["confabulation", "harmful_bias"]
    tab = client.get(response["Location"]).content.decode()
    assert "Employment and workers management (Annex III point 4)" in tab
    assert "Art 50(1)" in tab and "Art 9" in tab and "GAI-2.2" in tab and "Assess again" in tab


def test_the_questionnaire_shows_the_previous_answers(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    services.risk_assessment_record(
        use_case=use_case, answers={"role": "deployer", "generates_synthetic_content": True, "genai_risks": ["cbrn"]},
        actor=support_team.lead,
    )  # fmt: skip
    form = login(support_team.lead).get(questionnaire(use_case)).context["form"]
    assert form.initial["role"] == "deployer"
    assert form.initial["generates_synthetic_content"] == "yes" and form.initial["is_gpai"] == "no"
    assert form.initial["genai_risks"] == ["cbrn"]


def test_bad_answers_are_shown_on_the_question_and_nothing_is_saved(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    response = login(support_team.lead).post(
        questionnaire(use_case),
        {"role": "provider", "annex_iii_areas": ["education"], "derogation_conditions": ["preparatory_task"]},
    )
    assert response.status_code == 200
    assert "is required when you claim the Art 6(3) derogation" in str(
        response.context["form"].errors["derogation_rationale"]
    )
    missing_role = login(support_team.lead).post(questionnaire(use_case), {"is_gpai": "no"})
    assert "role" in missing_role.context["form"].errors
    assert not RiskAssessment.objects.exists()
    use_case.refresh_from_db()
    assert use_case.risk_tier == RiskTierChoices.UNASSESSED


def test_the_coe_assesses_but_executives_other_teams_and_hidden_use_cases_do_not(
    login, support_team, legal_team, file_use_case, reviewer, executive
):
    use_case = file_use_case(support_team)
    hidden = file_use_case(support_team, name="Fraud triage", visibility=VisibilityChoices.RESTRICTED)
    assert login(reviewer).get(questionnaire(use_case)).status_code == 200
    assert login(executive).get(questionnaire(use_case)).status_code == 403
    assert login(legal_team.lead).post(questionnaire(use_case), {"role": "provider"}).status_code == 403
    assert login(legal_team.lead).get(questionnaire(hidden)).status_code == 404
    assert not RiskAssessment.objects.exists()


def test_readers_see_the_tab_without_the_buttons(login, support_team, file_use_case, executive):
    use_case = file_use_case(support_team)
    services.risk_assessment_record(use_case=use_case, answers={"role": "both"}, actor=support_team.lead)
    add_risk(use_case, support_team.lead)
    page = login(executive).get(risk_tab(use_case)).content.decode()
    assert "Minimal" in page and "Wrong refund amounts" in page
    assert "Assess again" not in page and "Add a risk" not in page


def test_an_older_version_can_be_shown(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    services.risk_assessment_record(use_case=use_case, answers={"role": "both", "annex_iii_areas": ["migration"]},
                                    actor=support_team.lead)  # fmt: skip
    services.risk_assessment_record(use_case=use_case, answers={"role": "both"}, actor=support_team.lead)
    response = login(support_team.lead).get(risk_tab(use_case) + "&version=1")
    assert response.context["risk_assessment"].version == 1
    assert "an earlier version; the latest is version 2" in response.content.decode()
    assert (
        login(support_team.lead).get(risk_tab(use_case) + "&version=x").context["risk_assessment"].version
        == 2
    )


def test_the_register_lists_the_worst_residual_risk_first(
    login, support_team, file_use_case, django_assert_max_num_queries
):
    use_case = file_use_case(support_team)
    add_risk(use_case, support_team.lead, title="Small", likelihood=2, severity=3)
    add_risk(use_case, support_team.lead, title="Big", likelihood=4, severity=4, review_date="2027-03-01")
    add_risk(use_case, support_team.lead, title="Mitigated big", likelihood=5, severity=4, residual_likelihood=1,
             residual_severity=4, status="mitigated", mitigation="A person checks each one.")  # fmt: skip
    client = login(support_team.lead)
    client.get(risk_tab(use_case))  # warm the caches (content types, roles)
    # Session, person, roles, the use case, its assessments and its register with owners: the
    # count does not grow with the register's length.
    with django_assert_max_num_queries(11):
        response = client.get(risk_tab(use_case))
    assert [entry.title for entry in response.context["risk_entries"]] == ["Big", "Small", "Mitigated big"]


def test_a_risk_is_added_edited_and_deleted_through_the_pages(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    client = login(support_team.members.get(username="priya"))  # a member, not the lead
    add_url = reverse("approvals:risk-entry-add", args=[use_case.key])
    assert client.get(add_url).status_code == 200
    data = {"title": "Leaks order history", "description": "", "category": "privacy", "likelihood": 2, "severity": 4,
            "owner": support_team.lead.pk, "mitigation": "", "residual_likelihood": "", "residual_severity": "",
            "review_date": "", "status": "open"}  # fmt: skip
    response = client.post(add_url, data)
    assert response.status_code == 302 and response["Location"] == risk_tab(use_case)
    entry = RiskRegisterEntry.objects.get()
    assert (entry.residual_likelihood, entry.residual_severity, entry.inherent_level) == (2, 4, "medium")

    edit_url = reverse("approvals:risk-entry-edit", args=[use_case.key, entry.pk])
    too_high = client.post(edit_url, {**data, "residual_likelihood": 3, "residual_severity": 4})
    assert too_high.status_code == 200
    assert "may not exceed the likelihood before mitigation (2)" in str(
        too_high.context["form"].errors["residual_likelihood"]
    )
    client.post(
        edit_url, {**data, "residual_likelihood": 1, "residual_severity": 4, "mitigation": "Mask it."}
    )
    entry.refresh_from_db()
    assert (entry.residual_score, entry.mitigation) == (4, "Mask it.")

    delete_url = reverse("approvals:risk-entry-delete", args=[use_case.key, entry.pk])
    assert client.get(delete_url).status_code == 200
    assert client.post(delete_url)["Location"] == risk_tab(use_case)
    assert not RiskRegisterEntry.objects.exists()


def test_an_entry_is_only_reached_through_its_own_use_case(login, support_team, file_use_case):
    first, second = file_use_case(support_team), file_use_case(support_team, name="Agent assist")
    entry = add_risk(first, support_team.lead)
    url = reverse("approvals:risk-entry-edit", args=[second.key, entry.pk])
    assert login(support_team.lead).get(url).status_code == 404


def test_other_teams_may_not_touch_the_register(login, support_team, legal_team, file_use_case, auditor):
    use_case = file_use_case(support_team)
    entry = add_risk(use_case, support_team.lead)
    for person in (legal_team.lead, auditor):
        client = login(person)
        assert client.get(reverse("approvals:risk-entry-add", args=[use_case.key])).status_code == 403
        assert (
            client.post(reverse("approvals:risk-entry-delete", args=[use_case.key, entry.pk])).status_code
            == 403
        )
    assert RiskRegisterEntry.objects.count() == 1
