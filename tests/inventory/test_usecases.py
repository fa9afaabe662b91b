"""Filing, finding, editing and repairing use cases: pages, services and rules."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inventory.choices import VisibilityChoices
from inventory.models import UseCase
from inventory.models.assets import ReleaseFrozen
from inventory.services import catalog as catalog_services
from inventory.services import organisation as organisation_services
from inventory.services import usecases as services
from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from portal.roles import Role

pytestmark = pytest.mark.django_db


def intake(team, **overrides):
    data = {
        "name": "Returns assistant",
        "purpose": "Helps customers start a return and explains the refund timeline.",
        "owning_team": team.pk,
        "accountable_owner": team.lead.pk,
        "ai_kind": "generative",
        "data_sensitivity": "pii",
        "human_oversight": "on_the_loop",
        "visibility": "normal",
    }
    return {**data, **overrides}


def test_keys_are_stable_and_sequential(support_team, file_use_case):
    first = file_use_case(support_team)
    second = file_use_case(support_team, name="Agent assist")
    assert (first.key, second.key) == ("UC-0001", "UC-0002")
    assert first.business_unit == support_team.business_unit


def test_a_team_lead_files_a_draft_then_submits_it(login, support_team):
    client = login(support_team.lead)
    response = client.post(reverse("inventory:usecase-add"), {**intake(support_team), "draft": ""})
    use_case = UseCase.objects.get()
    assert response["Location"] == use_case.get_absolute_url()
    assert use_case.is_draft and use_case.created_by == support_team.lead
    page = client.get(use_case.get_absolute_url()).content.decode()
    assert "Submit as proposed" in page and "Draft" in page
    client.post(reverse("inventory:usecase-submit", args=[use_case.key]))
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.key == "proposed" and use_case.submitted_at


def test_intake_can_submit_at_once(login, support_team):
    login(support_team.lead).post(reverse("inventory:usecase-add"), {**intake(support_team), "submit": ""})
    assert UseCase.objects.get().lifecycle_stage.key == "proposed"


def test_the_intake_form_asks_six_questions_and_explains_every_field(login, support_team):
    form = login(support_team.lead).get(reverse("inventory:usecase-add")).context["form"]
    assert [f.name for f in form.required_fields()] == [
        "name", "purpose", "owning_team", "accountable_owner", "ai_kind", "data_sensitivity"
    ]  # fmt: skip
    assert all(form.fields[name].help_text for name in form.fields)


def test_the_owner_must_be_in_the_team_and_the_message_says_so(login, support_team, make_user):
    outsider = make_user("omar", Role.TEAM_MEMBER)
    response = login(support_team.lead).post(
        reverse("inventory:usecase-add"),
        {**intake(support_team, accountable_owner=outsider.pk), "submit": ""},
    )
    assert response.status_code == 200
    assert "omar is not a member of Support Automation" in str(
        response.context["form"].errors["accountable_owner"]
    )
    assert not UseCase.objects.exists()


def test_people_file_only_for_their_own_teams(login, support_team, legal_team):
    form = login(support_team.lead).get(reverse("inventory:usecase-add")).context["form"]
    assert list(form.fields["owning_team"].queryset) == [support_team]
    response = login(support_team.lead).post(
        reverse("inventory:usecase-add"),
        {**intake(legal_team, accountable_owner=legal_team.lead.pk), "submit": ""},
    )
    assert "owning_team" in response.context["form"].errors


@pytest.mark.parametrize("fixture", ["executive", "auditor", "reviewer"])
def test_readers_do_not_file(request, login, fixture):
    assert login(request.getfixturevalue(fixture)).get(reverse("inventory:usecase-add")).status_code == 403


def test_restricted_use_cases_are_invisible_to_other_teams(
    login, support_team, legal_team, file_use_case, executive
):
    secret = file_use_case(support_team, name="CV screening", visibility=VisibilityChoices.RESTRICTED)
    open_one = file_use_case(support_team, name="Chatbot")
    other_team_client = login(legal_team.lead)
    assert other_team_client.get(secret.get_absolute_url()).status_code == 404
    listing = other_team_client.get(reverse("inventory:usecase-list")).context["page"].object_list
    assert [uc.key for uc in listing] == [open_one.key]
    assert (
        login(support_team.members.exclude(pk=support_team.lead.pk).get())
        .get(secret.get_absolute_url())
        .status_code
        == 200
    )
    assert login(executive).get(secret.get_absolute_url()).status_code == 200


def test_other_teams_see_but_may_not_change(login, support_team, legal_team, file_use_case):
    use_case = file_use_case(support_team)
    client = login(legal_team.lead)
    assert client.get(use_case.get_absolute_url()).status_code == 200
    assert client.get(reverse("inventory:usecase-edit", args=[use_case.key])).status_code == 403


def test_editing_records_what_changed(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    client = login(support_team.lead)
    form = client.get(reverse("inventory:usecase-edit", args=[use_case.key])).context["form"]
    data = {
        name: (value.pk if hasattr(value, "pk") else value)
        for name, value in form.initial.items()
        if value is not None
    }
    data.update(name="Help-centre chatbot", tags="Support, GenAI, support", save="")
    response = client.post(reverse("inventory:usecase-edit", args=[use_case.key]), data)
    assert response.status_code == 302
    use_case.refresh_from_db()
    assert (use_case.name, use_case.tags) == ("Help-centre chatbot", ["genai", "support"])
    entry = (
        AuditEntry.objects.filter(action=AuditActionChoices.UPDATE, content_type__model="usecase")
        .order_by("id")
        .last()
    )
    assert entry.changes["name"] == {"before": "Support chatbot", "after": "Help-centre chatbot"}
    assert "updated_at" not in entry.changes


def test_list_filters_and_sorting_live_in_the_url(login, support_team, legal_team, file_use_case, executive):
    chatbot = file_use_case(support_team, name="Chatbot", tags=["support", "genai"], submit=True)
    file_use_case(
        legal_team, name="Summariser", tags=["legal"], ai_kind="predictive", data_sensitivity="confidential"
    )
    client = login(executive)

    def keys(**params):
        return [
            uc.key for uc in client.get(reverse("inventory:usecase-list"), params).context["page"].object_list
        ]

    assert keys(team="support-automation") == [chatbot.key]
    assert keys(stage="proposed") == [chatbot.key]
    assert keys(tag="genai") == [chatbot.key]
    assert keys(ai_kind="predictive") == ["UC-0002"]
    assert keys(q="summar") == ["UC-0002"]
    assert keys(q="uc-0001") == [chatbot.key]
    assert keys(sort="-key") == ["UC-0002", "UC-0001"]
    assert keys(owner="lena") == [chatbot.key]
    assert keys(draft="true") == ["UC-0002"]


def test_a_departed_owner_or_one_who_left_the_team_orphans_the_use_case(
    login, support_team, file_use_case, reviewer
):
    member = support_team.members.exclude(pk=support_team.lead.pk).get()
    owned_by_member = file_use_case(support_team, owner=member, name="Agent assist")
    owned_by_lead = file_use_case(support_team, name="Chatbot")
    assert not UseCase.objects.orphaned().exists()
    member.is_active = False
    member.save()
    organisation_services.team_update(
        team=support_team, members=[]
    )  # the lead stays: a lead is always a member
    assert list(UseCase.objects.orphaned().values_list("key", flat=True)) == [owned_by_member.key]
    page = login(reviewer).get(reverse("inventory:usecase-orphaned"))
    assert [uc.key for uc in page.context["use_cases"]] == [owned_by_member.key]
    assert owned_by_lead.key not in page.content.decode()


def test_the_coe_reassigns_an_orphaned_use_case_and_the_trail_records_it(
    login, support_team, file_use_case, reviewer
):
    member = support_team.members.exclude(pk=support_team.lead.pk).get()
    use_case = file_use_case(support_team, owner=member)
    member.is_active = False
    member.save()
    client = login(reviewer)
    response = client.post(
        reverse("inventory:usecase-reassign", args=[use_case.key]),
        {"accountable_owner": support_team.lead.pk},
    )
    assert response.status_code == 302
    use_case.refresh_from_db()
    assert use_case.accountable_owner == support_team.lead
    entry = AuditEntry.objects.filter(
        content_type__model="usecase", changes__has_key="accountable_owner"
    ).first()  # newest first
    assert entry.actor == reviewer
    assert entry.changes["accountable_owner"] == {"before": member.pk, "after": support_team.lead.pk}
    assert not UseCase.objects.orphaned().exists()


def test_only_the_coe_reassigns(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    assert (
        login(support_team.lead).get(reverse("inventory:usecase-reassign", args=[use_case.key])).status_code
        == 403
    )


def test_only_drafts_are_deleted_by_their_team(login, support_team, file_use_case):
    draft = file_use_case(support_team, name="Draft")
    filed = file_use_case(support_team, name="Filed", submit=True)
    client = login(support_team.lead)
    assert client.post(reverse("inventory:usecase-delete", args=[filed.key])).status_code == 403
    client.post(reverse("inventory:usecase-delete", args=[draft.key]))
    assert list(UseCase.objects.values_list("key", flat=True)) == [filed.key]


def test_an_admin_is_offered_delete_only_on_drafts(login, support_team, file_use_case, admin_user):
    draft = file_use_case(support_team, name="Draft")
    filed = file_use_case(support_team, name="Filed", submit=True)
    client = login(admin_user)
    delete_url = reverse("inventory:usecase-delete", args=[filed.key])
    page = client.get(reverse("inventory:usecase-detail", args=[filed.key])).content.decode()
    assert "Delete draft" not in page and delete_url not in page
    assert client.post(delete_url).status_code == 403
    page = client.get(reverse("inventory:usecase-detail", args=[draft.key])).content.decode()
    assert reverse("inventory:usecase-delete", args=[draft.key]) in page
    assert UseCase.objects.filter(key=filed.key).exists()


def test_the_service_refuses_to_delete_a_submitted_use_case(support_team, file_use_case):
    filed = file_use_case(support_team, name="Filed", submit=True)
    with pytest.raises(ValidationError, match="only drafts are deleted"):
        services.usecase_delete(use_case=filed)
    assert UseCase.objects.filter(key=filed.key).exists()


def test_a_frozen_release_never_changes(support_team, file_use_case):
    use_case = file_use_case(support_team)
    release = catalog_services.release_create(
        use_case=use_case, actor=support_team.lead, version="1.0", code_ref="git:abc"
    )
    release.notes = "still open"
    release.save()
    catalog_services.release_freeze(release=release, reason="approval #7")
    release.refresh_from_db()
    release.code_ref = "git:def"
    with pytest.raises(ReleaseFrozen, match="approval #7"):
        release.save()
    from inventory.models import Model, ModelVersion

    model = Model.objects.create(slug="m", name="M", owning_team=support_team, provider="in_house")
    version = ModelVersion.objects.create(model=model, version="1", sha256="a" * 64)
    with pytest.raises(ReleaseFrozen):
        release.model_versions.add(version)


def test_detail_tabs_show_honest_empty_states(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    client = login(support_team.lead)
    for tab, text in (
        ("deployments", "No deployments recorded"),
        ("approvals", "No gate requests yet"),
        ("costs", "No cost attributed yet"),
        ("findings", "No findings"),
        ("releases", "No releases yet"),
        ("ownership", "Accountable owner"),
        ("history", "Created"),
    ):
        assert text in client.get(use_case.get_absolute_url(), {"tab": tab}).content.decode(), tab


def test_team_page_lists_what_the_team_owns_and_person_page_what_they_own(login, support_team, file_use_case):
    use_case = file_use_case(support_team)
    client = login(support_team.lead)
    assert use_case.name in client.get(support_team.get_absolute_url()).content.decode()
    person = client.get(reverse("inventory:person-detail", args=[support_team.lead.username]))
    assert [(uc.key, roles) for uc, roles in person.context["owned"]] == [
        (use_case.key, ["Accountable owner"])
    ]


def test_the_list_costs_a_fixed_number_of_queries(
    login, support_team, file_use_case, executive, django_assert_max_num_queries
):
    for index in range(20):
        file_use_case(support_team, name=f"Use case {index}")
    client = login(executive)
    with django_assert_max_num_queries(16):
        client.get(reverse("inventory:usecase-list"))
    with django_assert_max_num_queries(16):
        client.get(UseCase.objects.first().get_absolute_url())


def test_usecase_services_name_bad_fields(support_team, file_use_case):
    use_case = file_use_case(support_team)
    with pytest.raises(ValidationError, match="cannot be changed here: key"):
        services.usecase_update(use_case=use_case, actor=support_team.lead, key="UC-9999")
    with pytest.raises(ValidationError, match="already submitted"):
        services.usecase_submit(use_case=services.usecase_submit(use_case=use_case, actor=None), actor=None)


def test_previous_and_next_keep_the_filters_and_the_sort(
    login, support_team, legal_team, file_use_case, executive, monkeypatch
):
    monkeypatch.setattr("inventory.views.usecases.USE_CASES_PER_PAGE", 1)
    for name in ("Chatbot", "Router", "Triage"):
        file_use_case(support_team, name=name, tags=["genai"])
    file_use_case(legal_team, name="Summariser", tags=["genai"])
    client = login(executive)
    filters = {"team": "support-automation", "tag": "genai", "sort": "-key"}

    last = client.get(reverse("inventory:usecase-list"), {**filters, "page": 3})
    assert [uc.name for uc in last.context["page"].object_list] == ["Chatbot"]
    html = last.content.decode()
    assert "Page 3 of 3" in html
    assert 'href="?team=support-automation&amp;tag=genai&amp;sort=-key&amp;page=2">Previous</a>' in html
    assert ">Next</a>" not in html
