"""Business unit and team pages."""

import pytest
from django.urls import reverse

from inventory.testing import BusinessUnitFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_team_list_detail_and_search(login, team_member, team_lead):
    unit = BusinessUnitFactory(name="Customer Operations")
    team = TeamFactory(name="Support Automation", business_unit=unit, lead=team_lead, members=[team_member])
    TeamFactory(name="Legal Tech")
    client = login(team_member)
    listing = client.get(reverse("inventory:team-list"), {"q": "support"})
    assert [t.name for t in listing.context["teams"]] == ["Support Automation"]
    assert listing.context["teams"][0].member_count == 2
    detail = client.get(reverse("inventory:team-detail", args=[team.slug]))
    assert detail.status_code == 200
    assert {p.username for p in detail.context["members"]} == {team_member.username, team_lead.username}
    assert b"Customer Operations" in detail.content


def test_team_membership_is_mirrored_in_its_permission_group(team_lead, team_member):
    team = TeamFactory(lead=team_lead, members=[team_member])
    assert set(team.group.user_set.all()) == {team_lead, team_member}


def test_business_unit_pages(login, executive):
    unit = BusinessUnitFactory(name="Finance", head=executive)
    TeamFactory(business_unit=unit, name="FP&A Analytics")
    client = login(executive)
    listing = client.get(reverse("inventory:business-unit-list"))
    assert listing.context["units"][0].team_count == 1
    detail = client.get(reverse("inventory:business-unit-detail", args=[unit.slug]))
    assert b"FP&amp;A Analytics" in detail.content


def test_unknown_team_is_404(login, team_member):
    assert login(team_member).get(reverse("inventory:team-detail", args=["nope"])).status_code == 404


def test_team_list_queries_do_not_grow_with_teams(login, team_member, django_assert_max_num_queries):
    for _ in range(25):
        TeamFactory()
    client = login(team_member)
    with django_assert_max_num_queries(6):
        client.get(reverse("inventory:team-list"))
