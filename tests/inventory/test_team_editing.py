"""Editing teams and business units: who may, what they may change, and the rules kept."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from inventory.models import BusinessUnit, Team
from inventory.services.organisation import team_update
from inventory.testing import BusinessUnitFactory, TeamFactory
from portal.permissions import Action, can
from portal.roles import Role

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_team_with_its_group_and_lead_rights(login, admin_user, team_lead, team_member):
    unit = BusinessUnitFactory()
    response = login(admin_user).post(reverse("inventory:team-add"), {
        "name": "Legal Tech", "slug": "legal-tech", "business_unit": unit.pk, "description": "Contracts",
        "lead": team_lead.pk, "members": [team_member.pk],
    })  # fmt: skip
    team = Team.objects.get(slug="legal-tech")
    assert response["Location"] == team.get_absolute_url()
    assert set(team.members.all()) == {team_lead, team_member}
    assert set(team.group.user_set.all()) == {team_lead, team_member}
    assert can(team_lead, Action.CHANGE, team)
    assert not can(team_member, Action.CHANGE, team)


def test_a_team_lead_edits_only_description_lead_and_members(login, team_lead, team_member):
    team = TeamFactory(name="Support", lead=team_lead)
    other_unit = BusinessUnitFactory()
    client = login(team_lead)
    form = client.get(reverse("inventory:team-edit", args=[team.slug])).context["form"]
    assert set(form.fields) == {"description", "lead", "members"}
    client.post(reverse("inventory:team-edit", args=[team.slug]), {
        "name": "Hijacked", "slug": "hijacked", "business_unit": other_unit.pk,
        "description": "Chatbots", "lead": team_lead.pk, "members": [team_member.pk],
    })  # fmt: skip
    team.refresh_from_db()
    assert (team.name, team.slug, team.description) == ("Support", team.slug, "Chatbots")
    assert team_member in team.members.all()


def test_lead_rights_follow_the_lead(team_lead, make_user):
    successor = make_user("omar", Role.TEAM_LEAD)
    team = TeamFactory(lead=team_lead)
    team_update(team=team, lead=successor)
    assert can(successor, Action.CHANGE, team)
    assert not can(team_lead, Action.CHANGE, team)
    assert successor in team.members.all()


def test_a_bad_team_form_names_the_field(login, admin_user):
    response = login(admin_user).post(reverse("inventory:team-add"), {"name": "", "slug": "new"})
    errors = response.context["form"].errors
    assert response.status_code == 200
    assert "name" in errors and "business_unit" in errors
    assert not Team.objects.exists()


def test_reserved_keys_are_refused_with_a_reason(login, admin_user):
    response = login(admin_user).post(reverse("inventory:business-unit-add"), {"name": "New", "slug": "new"})
    assert "“new” is reserved" in str(response.context["form"].errors["slug"])


def test_a_business_unit_with_teams_is_not_deleted(login, admin_user):
    team = TeamFactory()
    unit = team.business_unit
    response = login(admin_user).post(
        reverse("inventory:business-unit-delete", args=[unit.slug]), follow=True
    )
    assert "still has 1 team(s)" in response.content.decode()
    assert BusinessUnit.objects.filter(pk=unit.pk).exists()
    api = APIClient()
    api.force_authenticate(admin_user)
    refused = api.delete(f"/api/business-units/{unit.slug}/")
    assert refused.status_code == 400
    assert "still has 1 team(s)" in refused.json()["non_field_errors"][0]


def test_deleting_a_team_removes_its_group(login, admin_user):
    team = TeamFactory()
    group_pk = team.group.pk
    login(admin_user).post(reverse("inventory:team-delete", args=[team.slug]))
    assert not Team.objects.filter(pk=team.pk).exists()
    from django.contrib.auth.models import Group

    assert not Group.objects.filter(pk=group_pk).exists()


def test_teams_through_the_api(admin_user, team_lead, team_member):
    unit = BusinessUnitFactory(slug="ops")
    api = APIClient()
    api.force_authenticate(admin_user)
    created = api.post("/api/teams/", {
        "name": "Ops AI", "slug": "ops-ai", "business_unit": "ops", "lead": team_lead.username,
        "members": [team_member.username],
    }, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    assert {m["username"] for m in created.json()["members_detail"]} == {
        team_lead.username,
        team_member.username,
    }
    bad = api.post("/api/teams/", {"name": "X", "slug": "x", "business_unit": "nope"}, format="json")
    assert bad.status_code == 400 and "business_unit" in bad.json()
    api.force_authenticate(team_lead)
    patched = api.patch("/api/teams/ops-ai/", {"description": "Runbooks", "name": "Renamed"}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["description"], patched.json()["name"]) == ("Runbooks", "Ops AI")
    assert unit.teams.count() == 1


def test_edit_links_appear_only_for_those_who_may(login, team_lead, team_member):
    team = TeamFactory(lead=team_lead)
    assert b"Edit team" in login(team_lead).get(team.get_absolute_url()).content
    assert b"Edit team" not in login(team_member).get(team.get_absolute_url()).content
