"""Who may do what in the catalog: use cases, teams, shared assets and their versions,
releases — and the helpers the apps above build their policies on (a person's teams, the use
cases they see, change or assess).

Imported from ``InventoryConfig.ready()`` so the ``@policy`` registrations run.
"""

from collections.abc import Callable

from django.apps import apps
from django.db.models import Model, Q, QuerySet

from inventory.choices import VisibilityChoices
from inventory.models import Team, UseCase
from portal.permissions import (
    Action,
    is_read_only,
    is_usable,
    object_permission_condition,
    policy,
    restrict,
    with_object_permission,
)
from portal.policies import PORTFOLIO_READERS, has_any_role, is_admin
from portal.roles import Role, has_role

TEAM_ROLES = (Role.TEAM_MEMBER, Role.TEAM_LEAD)

# Who assesses a use case (risk, maturity, value): its team and the CoE.
ASSESSORS = (*TEAM_ROLES, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN)

# Apps above add who else reads a use case (e.g. approvals: the reviewers a gate asks to decide).
# Each returns a condition on use cases, or None when it grants the person nothing.
UseCaseReaders = Callable[[object], Q | None]
_USE_CASE_READERS: list[UseCaseReaders] = []


def register_use_case_readers(condition: UseCaseReaders) -> UseCaseReaders:
    """Let ``condition(user)`` widen the use cases a person without a portfolio role reads."""
    _USE_CASE_READERS.append(condition)
    return condition


def my_team_ids(user) -> QuerySet:
    """The teams whose group the person is in: team permissions flow through team groups."""
    return Team.objects.filter(group__user=user).values("pk")


def team_or_granted(model: type[Model], user, codename: str, team_field: str = "owning_team_id") -> Q:
    """The person's teams own it, or it was shared with them (or one of their groups) through a
    guardian grant: one flat condition, so the database sees a single WHERE clause."""
    own = Q(**{f"{team_field}__in": my_team_ids(user)})
    return own | object_permission_condition(model, user, codename)


def may_file(user) -> bool:
    return has_role(user, *TEAM_ROLES, Role.ADMIN)


def is_assessor(user) -> bool:
    return has_role(user, *ASSESSORS)


def visible_use_cases(user) -> QuerySet:
    return restrict(UseCase.objects.all(), user, Action.VIEW)


def changeable_use_cases(user) -> QuerySet:
    return restrict(UseCase.objects.all(), user, Action.CHANGE)


def assessable_use_cases(user) -> QuerySet:
    """Use cases whose risk, maturity and value the person may assess: the owning team
    (through its group's grant) those it may change, the CoE every use case it sees, admins all."""
    use_cases = UseCase.objects.all()
    if has_role(user, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN):
        return restrict(use_cases, user, Action.VIEW)
    if has_role(user, *TEAM_ROLES):
        return restrict(use_cases, user, Action.CHANGE)
    return use_cases.none()


def _read_all_admin_writes(queryset: QuerySet, user, action: str) -> QuerySet:
    """Configuration everyone reads and only admins change."""
    if action == Action.VIEW or is_admin(user):
        return queryset
    return queryset.none()


policy("inventory.businessunit", add=is_admin)(_read_all_admin_writes)
policy("inventory.environment", add=is_admin)(_read_all_admin_writes)


@policy("inventory.team", add=is_admin)
def _teams(queryset: QuerySet, user, action: str) -> QuerySet:
    """Everyone sees teams. Admins change any; a team lead changes their own team (guardian
    ``change_team``, granted with the lead role); only admins delete."""
    if action == Action.VIEW or is_admin(user):
        return queryset
    if action == Action.CHANGE:
        return with_object_permission(queryset, user, "change_team")
    return queryset.none()


@policy("inventory.usecase", add=may_file)
def _use_cases(queryset: QuerySet, user, action: str) -> QuerySet:
    """Readers see everything; team people see every normal use case and their own team's
    restricted ones; the owning team changes its use cases and deletes its drafts; the CoE
    reassigns owners. Anything else shared one by one is a guardian grant."""
    if action == Action.DELETE:
        # Only drafts are deleted, by admins too: a submitted use case has a lifecycle history
        # (gates, audit, costs) that must outlive it; it is retired instead.
        drafts = queryset.filter(lifecycle_stage__isnull=True)
        if is_admin(user):
            return drafts
        return drafts.filter(team_or_granted(queryset.model, user, "delete_usecase"))
    if is_admin(user):
        return queryset
    model = queryset.model
    if action == Action.VIEW:
        if has_role(user, *PORTFOLIO_READERS):
            return queryset
        visible = team_or_granted(model, user, "view_usecase")
        for readers in _USE_CASE_READERS:
            condition = readers(user)
            if condition is not None:
                visible |= condition
        if has_role(user, *TEAM_ROLES):
            return queryset.filter(Q(visibility=VisibilityChoices.NORMAL) | visible)
        return queryset.filter(visible)
    if action in (Action.CHANGE, "custom:submit"):
        return queryset.filter(team_or_granted(model, user, "change_usecase"))
    if action == "custom:reassign":
        return queryset if has_role(user, Role.COE_REVIEWER, Role.COE_LEAD) else queryset.none()
    return queryset.none()


def _team_asset_policy(queryset: QuerySet, user, action: str) -> QuerySet:
    """Shared assets: everyone with a role sees them (reuse beats rebuilding); the owning team
    maintains them."""
    if is_admin(user):
        return queryset
    if action == Action.VIEW:
        return queryset if has_any_role(user) else queryset.none()
    if action in (Action.CHANGE, Action.DELETE):
        return queryset.filter(owning_team_id__in=my_team_ids(user))
    return queryset.none()


for _label in (
    "inventory.component",
    "inventory.datasource",
    "inventory.model",
    "inventory.prompttemplate",
    "inventory.dataset",
):
    policy(_label, add=may_file)(_team_asset_policy)


def _via_parent(parent_model_label: str, parent_field: str):
    """Versions follow the permissions of what they are versions of."""

    def parent_policy(queryset: QuerySet, user, action: str) -> QuerySet:
        parent = apps.get_model(parent_model_label)
        parent_action = Action.VIEW if action == Action.VIEW else Action.CHANGE
        return queryset.filter(
            **{f"{parent_field}__in": restrict(parent.objects.all(), user, parent_action).values("pk")}
        )

    return parent_policy


policy("inventory.modelversion", add=may_file)(_via_parent("inventory.model", "model"))
policy("inventory.promptversion", add=may_file)(_via_parent("inventory.prompttemplate", "template"))
policy("inventory.datasetversion", add=may_file)(_via_parent("inventory.dataset", "dataset"))
policy("inventory.kpi", add=may_file)(_via_parent("inventory.usecase", "use_case"))


@policy("inventory.release", add=may_file)
def _releases(queryset: QuerySet, user, action: str) -> QuerySet:
    """A release follows its use case; once an approval or deployment used it, it never changes."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=visible_use_cases(user).values("pk"))
    writable = queryset.filter(use_case__in=changeable_use_cases(user).values("pk"))
    return writable.filter(frozen_at__isnull=True) if action in (Action.CHANGE, Action.DELETE) else writable


@policy("inventory.notduplicate", add=has_any_role)
def _not_duplicates(queryset: QuerySet, user, action: str) -> QuerySet:
    """Anyone who sees both use cases may say they are not duplicates; the CoE may undo it."""
    visible = visible_use_cases(user).values("pk")
    mine = queryset.filter(first__in=visible, second__in=visible)
    if action == Action.VIEW:
        return mine
    if action == Action.DELETE and has_role(user, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN):
        return mine
    return queryset.none()


#
# Page-level predicates: what a page offers, beside the policies that decide the rows
#


def may_file_for_team(user, team) -> bool:
    """People file use cases and assets for teams they belong to; admins for any team."""
    if not is_usable(user) or is_read_only(user):
        return False
    return is_admin(user) or team.group.user_set.filter(pk=user.pk).exists()


def may_file_for_any_team(user) -> bool:
    """Admins pick any owning team; everyone else picks among their own teams."""
    return is_admin(user)


def may_configure_teams(user) -> bool:
    """Admins edit every field of a team; a team lead only the fields a lead maintains."""
    return is_admin(user)


def may_view_orphaned_use_cases(user) -> bool:
    """The repair list of orphaned ownership: the CoE, executives, auditors and admins."""
    return has_role(user, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN, Role.EXECUTIVE, Role.AUDITOR)


def may_reassign_owners(user) -> bool:
    """The CoE (and admins) reassign the accountable owner of a use case."""
    return has_role(user, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN)
