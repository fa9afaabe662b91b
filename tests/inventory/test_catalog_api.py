"""The catalog API: same services and rules as the pages."""

import pytest
from rest_framework.test import APIClient

from inventory.models import UseCase
from inventory.services import catalog as catalog_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_file_a_use_case_through_the_api(api, support_team):
    api.force_authenticate(support_team.lead)
    response = api.post("/api/use-cases/", {
        "name": "Returns assistant", "purpose": "Helps customers return orders.", "owning_team": "support-automation",
        "accountable_owner": support_team.lead.username, "ai_kind": "generative", "data_sensitivity": "pii",
        "tags": ["Support", "returns"], "submit": True,
    }, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["key"], body["lifecycle_stage"], body["tags"]) == (
        "UC-0001",
        "proposed",
        ["returns", "support"],
    )
    assert body["business_unit"] == support_team.business_unit.slug


def test_bad_input_names_the_field(api, support_team, make_user):
    api.force_authenticate(support_team.lead)
    outsider = make_user("omar")
    response = api.post("/api/use-cases/", {
        "name": "X", "purpose": "Y", "owning_team": "support-automation", "accountable_owner": outsider.username,
        "ai_kind": "psychic", "data_sensitivity": "pii",
    }, format="json")  # fmt: skip
    assert response.status_code == 400
    assert "ai_kind" in response.json()
    response = api.post("/api/use-cases/", {
        "name": "X", "purpose": "Y", "owning_team": "support-automation", "accountable_owner": outsider.username,
        "ai_kind": "generative", "data_sensitivity": "pii",
    }, format="json")  # fmt: skip
    assert response.json() == {
        "accountable_owner": ["omar is not a member of Support Automation; add them to the team first."]
    }
    assert not UseCase.objects.exists()


def test_filters_are_the_same_as_the_pages(api, support_team, legal_team, file_use_case, executive):
    file_use_case(support_team, name="Chatbot", tags=["support"], submit=True)
    file_use_case(legal_team, name="Summariser")
    api.force_authenticate(executive)

    def keys(**params):
        return [row["key"] for row in api.get("/api/use-cases/", params).json()["results"]]

    assert keys(team="support-automation") == ["UC-0001"]
    assert keys(draft="true") == ["UC-0002"]
    assert keys(q="summar") == ["UC-0002"]
    assert keys(tag="support") == ["UC-0001"]
    assert keys(sort="-key") == ["UC-0002", "UC-0001"]
    assert api.get("/api/use-cases/", {"tier": "catastrophic"}).status_code == 400


def test_orphaned_is_reported_and_filterable(api, support_team, file_use_case, executive):
    member = support_team.members.exclude(pk=support_team.lead.pk).get()
    file_use_case(support_team, owner=member)
    member.is_active = False
    member.save()
    api.force_authenticate(executive)
    rows = api.get("/api/use-cases/", {"orphaned": "true"}).json()["results"]
    assert [(row["key"], row["is_orphaned"]) for row in rows] == [("UC-0001", True)]


def test_a_frozen_release_answers_403_to_changes(api, support_team, file_use_case):
    use_case = file_use_case(support_team)
    release = catalog_services.release_create(
        use_case=use_case, actor=support_team.lead, version="1", code_ref="git:a"
    )
    catalog_services.release_freeze(release=release, reason="approval #3")
    api.force_authenticate(support_team.lead)
    assert api.patch(f"/api/releases/{release.pk}/", {"notes": "x"}, format="json").status_code == 403
    assert api.get(f"/api/releases/{release.pk}/").json()["frozen_reason"] == "approval #3"


def test_the_api_list_costs_a_fixed_number_of_queries(
    api, support_team, file_use_case, executive, django_assert_max_num_queries
):
    for index in range(25):
        file_use_case(support_team, name=f"Use case {index}")
    api.force_authenticate(executive)
    with django_assert_max_num_queries(10):
        assert api.get("/api/use-cases/").status_code == 200
