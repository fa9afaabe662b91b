"""Writes with rules for the organisation: business units, teams and their membership (the
team's permission group mirrors its members; the lead holds ``change_team``)."""

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.text import slugify
from guardian.shortcuts import assign_perm, remove_perm

from inventory.models import (
    BusinessUnit,
    Team,
)

TEAM_LEAD_PERMISSION = "inventory.change_team"


@transaction.atomic
def business_unit_create(*, name: str, slug: str = "", description: str = "", head=None) -> BusinessUnit:
    unit = BusinessUnit(name=name, slug=slug or slugify(name), description=description, head=head)
    unit.full_clean()
    unit.save()
    return unit


@transaction.atomic
def business_unit_update(*, unit: BusinessUnit, **changes) -> BusinessUnit:
    for name, value in changes.items():
        setattr(unit, name, value)
    unit.full_clean()
    unit.save()
    return unit


@transaction.atomic
def business_unit_delete(*, unit: BusinessUnit) -> None:
    if unit.teams.exists():
        raise ValidationError(
            f"“{unit.name}” still has {unit.teams.count()} team(s); move or delete them first."
        )
    unit.delete()


@transaction.atomic
def team_create(
    *,
    name: str,
    business_unit: BusinessUnit,
    slug: str = "",
    description: str = "",
    lead=None,
    members: Iterable = (),
) -> Team:
    """Create a team with its permission group; the lead is always a member."""
    slug = slug or slugify(name)
    group, _ = Group.objects.get_or_create(name=Team.group_name_for(slug))
    team = Team(
        name=name, slug=slug, business_unit=business_unit, description=description, lead=lead, group=group
    )
    team.full_clean()
    team.save()
    team_set_members(team=team, members=[*members, *([lead] if lead else [])])
    _grant_lead_permission(team=team, previous_lead=None)
    return team


@transaction.atomic
def team_update(*, team: Team, members: Iterable | None = None, **changes) -> Team:
    """Change a team's fields (and, if given, its members); the lead's rights follow the lead."""
    previous_lead = team.lead
    slug_before = team.slug
    for name, value in changes.items():
        setattr(team, name, value)
    team.full_clean()
    team.save()
    if team.slug != slug_before:
        team.group.name = Team.group_name_for(team.slug)
        team.group.save(update_fields=["name"])
    if members is not None or team.lead != previous_lead:
        current = list(team.members.all()) if members is None else list(members)
        team_set_members(team=team, members=[*current, *([team.lead] if team.lead else [])])
    _grant_lead_permission(team=team, previous_lead=previous_lead)
    return team


@transaction.atomic
def team_set_members(*, team: Team, members: Iterable) -> Team:
    """Replace the membership; the team's group mirrors it so permissions follow people."""
    people = {person.pk: person for person in members if person is not None}
    team.members.set(people.values())
    team.group.user_set.set(people.values())
    return team


@transaction.atomic
def team_delete(*, team: Team) -> None:
    group = team.group
    try:
        team.delete()
    except ProtectedError as exc:
        raise ValidationError(f"“{team.name}” still owns records; reassign them first.") from exc
    group.delete()


def _grant_lead_permission(*, team: Team, previous_lead) -> None:
    if previous_lead is not None and previous_lead != team.lead:
        remove_perm(TEAM_LEAD_PERMISSION, previous_lead, team)
    if team.lead is not None:
        assign_perm(TEAM_LEAD_PERMISSION, team.lead, team)
