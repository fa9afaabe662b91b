"""Who may do what with cost: billing sources and imports, allocation rules and pools, the
computed allocation, budgets and KPI readings.

Imported from ``CostsConfig.ready()`` so the ``@policy`` registrations run. A team's cost
follows its use cases, through the inventory's helpers.
"""

from django.db.models import Q, QuerySet

from costs.models import Budget, KpiReading
from inventory.policies import TEAM_ROLES, assessable_use_cases, is_assessor, my_team_ids, visible_use_cases
from portal.permissions import Action, can_add, is_read_only, policy, restrict
from portal.policies import PORTFOLIO_READERS, has_any_role, is_admin
from portal.roles import Role, has_role

COST_CURATORS = (Role.COE_LEAD, Role.COE_REVIEWER, Role.ADMIN)


def may_view_costs(user) -> bool:
    """Everyone with a role sees cost (a team its own, through allocations)."""
    return has_any_role(user)


def may_view_billing(user) -> bool:
    """The raw bill (sources, imports, reconciliation, allocation rules naming every team) is
    for administrators, executives, the CoE and auditors; team people see their cost through
    allocations."""
    return has_role(user, *PORTFOLIO_READERS)


def may_curate_costs(user) -> bool:
    """The CoE (lead and reviewers) and admins maintain allocation rules, pools and budgets and
    recompute allocation; auditors never write, whatever else they are."""
    return has_role(user, *COST_CURATORS) and not is_read_only(user)


def may_record_kpi_reading(user, kpi) -> bool:
    """Whether the person may record a reading of this KPI (no reading exists yet to ask)."""
    return can_add(user, KpiReading) and assessable_use_cases(user).filter(pk=kpi.use_case_id).exists()


#
# Billing: sources, imports and their line items
#


@policy("costs.costsource", add=is_admin)
def _cost_sources(queryset: QuerySet, user, action: str) -> QuerySet:
    """Billing configuration: admins configure; executives, the CoE and auditors read it."""
    if is_admin(user):
        return queryset
    if action == Action.VIEW and may_view_billing(user):
        return queryset
    return queryset.none()


@policy("costs.costimport", add=is_admin)
def _cost_imports(queryset: QuerySet, user, action: str) -> QuerySet:
    """Billing imports: admins run them (``add``); executives, the CoE and auditors read them.
    Nobody edits or deletes one: a new delivery replaces a period. Team people see their cost
    through allocations, never the raw bill."""
    if action == Action.VIEW and may_view_billing(user):
        return queryset
    return queryset.none()


policy("costs.costlineitem")(_cost_imports)
# What line items refer to (accounts, services, resources, tag sets…) is part of the raw bill.
for _dimension in (
    "billingaccount", "billingservice", "billingresource", "billingregion", "billingsku", "billingcharge",
    "billingtagset", "billingprofile", "costprofiletotal", "costload", "costloadfile",
):  # fmt: skip
    policy(f"costs.{_dimension}")(_cost_imports)


#
# Allocation, budgets and value (costs/services/allocation.py, costs/selectors/budgets.py, costs/selectors/value.py)
#


@policy("costs.allocationrule", add=may_curate_costs)
def _allocation_config(queryset: QuerySet, user, action: str) -> QuerySet:
    """Allocation rules and shared pools: the CoE (lead and reviewers) and admins maintain
    them; executives and auditors read them. Team people see their cost, not the rules (which
    name other teams' restricted use cases)."""
    if action == Action.VIEW and may_view_billing(user):
        return queryset
    if action in Action.WRITES and may_curate_costs(user):
        return queryset
    return queryset.none()


policy("costs.sharedpool", add=may_curate_costs)(_allocation_config)
policy("costs.sharedpoolmember", add=may_curate_costs)(_allocation_config)


def _own_cost_condition(user, use_case_field: str = "use_case", team_field: str = "team") -> Q:
    """Cost a team person may see: of use cases their teams own and may see (restricted ones
    only through the use case's own visibility), and cost allocated to their teams."""
    own_use_cases = visible_use_cases(user).filter(owning_team__in=my_team_ids(user))
    own_teams = my_team_ids(user)
    return Q(**{f"{use_case_field}__in": own_use_cases.values("pk")}) | Q(**{f"{team_field}__in": own_teams})


@policy("costs.costallocation")
def _cost_allocations(queryset: QuerySet, user, action: str) -> QuerySet:
    """Computed, never edited. Executives, the CoE, auditors and admins see all of it
    (unallocated included); a team sees its own use cases' and its own team's cost."""
    if action != Action.VIEW:
        return queryset.none()
    if has_role(user, *PORTFOLIO_READERS):
        return queryset
    if has_role(user, *TEAM_ROLES):
        return queryset.filter(_own_cost_condition(user))
    return queryset.none()


# Daily rollups are allocation at a finer grain: seen as allocations are.
policy("costs.costrollup")(_cost_allocations)


@policy("costs.costdriver")
def _cost_drivers(queryset: QuerySet, user, action: str) -> QuerySet:
    """What drives a use case's cost: seen with that cost (readers all, a team its own)."""
    if action != Action.VIEW:
        return queryset.none()
    if has_role(user, *PORTFOLIO_READERS):
        return queryset
    if has_role(user, *TEAM_ROLES):
        own = visible_use_cases(user).filter(owning_team__in=my_team_ids(user))
        return queryset.filter(use_case__in=own.values("pk"))
    return queryset.none()


@policy("costs.budget", add=may_curate_costs)
def _budgets(queryset: QuerySet, user, action: str) -> QuerySet:
    """The CoE and admins set budgets; readers see all; a team sees its own budgets."""
    if action == Action.VIEW:
        if has_role(user, *PORTFOLIO_READERS):
            return queryset
        if has_role(user, *TEAM_ROLES):
            return queryset.filter(_own_cost_condition(user))
        return queryset.none()
    if action in Action.WRITES and may_curate_costs(user):
        return queryset
    return queryset.none()


@policy("costs.budgetalert")
def _budget_alerts(queryset: QuerySet, user, action: str) -> QuerySet:
    """Alerts are read with their budget and written only by the budget check."""
    if action != Action.VIEW:
        return queryset.none()
    return queryset.filter(budget__in=restrict(Budget.objects.all(), user).values("pk"))


@policy("costs.kpireading", add=is_assessor)
def _kpi_readings(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case sees its KPI readings; the owning team and the CoE record and
    correct them (as for risk and maturity)."""
    if action == Action.VIEW:
        return queryset.filter(kpi__use_case__in=visible_use_cases(user).values("pk"))
    if action in Action.WRITES:
        return queryset.filter(kpi__use_case__in=assessable_use_cases(user).values("pk"))
    return queryset.none()
