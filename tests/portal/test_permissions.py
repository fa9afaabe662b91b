"""The choke point: unknown models fail closed; invisible is 404, visible-but-forbidden is 403."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404

from inventory.models import Team
from inventory.testing import TeamFactory
from portal.models import JobRun
from portal.permissions import Action, can, can_add, get_restricted_object_or_404, restrict
from portal.testing.factories import JobRunFactory

pytestmark = pytest.mark.django_db


def test_a_model_without_a_policy_is_refused_loudly(admin_user):
    with pytest.raises(ImproperlyConfigured, match=r"No access policy is declared for auth\.group"):
        restrict(Group.objects.all(), admin_user)


def test_anonymous_and_inactive_people_see_nothing(team_member):
    from django.contrib.auth.models import AnonymousUser

    TeamFactory()
    assert not restrict(Team.objects.all(), AnonymousUser()).exists()
    team_member.is_active = False
    assert not restrict(Team.objects.all(), team_member).exists()


def test_unknown_actions_are_a_programming_error(team_member):
    with pytest.raises(ValueError, match="Unknown action"):
        restrict(Team.objects.all(), team_member, "approve")


def test_invisible_is_404_and_visible_but_forbidden_is_403(team_member, admin_user):
    theirs = JobRunFactory(actor=admin_user)
    with pytest.raises(Http404):
        get_restricted_object_or_404(JobRun.objects.all(), team_member, pk=theirs.pk)
    team = TeamFactory()
    with pytest.raises(PermissionDenied):
        get_restricted_object_or_404(Team.objects.all(), team_member, Action.CHANGE, pk=team.pk)
    assert get_restricted_object_or_404(Team.objects.all(), admin_user, Action.CHANGE, pk=team.pk) == team


def test_configuration_is_read_by_all_and_written_by_admins(team_member, admin_user, auditor):
    team = TeamFactory()
    assert can(team_member, Action.VIEW, team)
    assert not can(team_member, Action.CHANGE, team)
    assert not can(auditor, Action.DELETE, team)
    assert can(admin_user, Action.DELETE, team)
    assert can_add(admin_user, Team) and not can_add(team_member, Team) and not can_add(auditor, Team)
