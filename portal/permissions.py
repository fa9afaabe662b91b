"""The one permission choke point.

Every queryset that reaches a person — list, detail, edit, API, export, search, chart, form
choice field — passes through :func:`restrict`. The policy for each model is decided here and
nowhere else. Unknown models fail closed: restricting a model without a policy is an error.

The policy, in words (DESIGN.md §1):

* executives and auditors view everything, restricted items included;
* team members view every team's normal items (openness prevents duplicate work) but
  restricted items only of their own team, and change only their own team's items;
* CoE reviewers view everything and decide gates; the CoE lead maintains the lifecycle;
* auditors never write anything, whatever other role they hold;
* admins configure (sources, roles, teams, schedules) and may do everything.

Object-level grants are django-guardian permissions: a team's group holds the permissions on
the objects the team owns, and a team lead holds ``change_team`` on their team. Objects a
person may not see answer 404 (:func:`get_restricted_object_or_404`); objects they can see but
not act on answer 403. Missing and forbidden look the same.
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import BigIntegerField, Model, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404

from portal.roles import Role, has_role


class Action:
    VIEW = "view"
    ADD = "add"
    CHANGE = "change"
    DELETE = "delete"

    ALL = (VIEW, ADD, CHANGE, DELETE)
    WRITES = (ADD, CHANGE, DELETE)


Policy = Callable[[QuerySet, object, str], QuerySet]
_POLICIES: dict[str, Policy] = {}
_ADD_RULES: dict[str, Callable[[object], bool]] = {}

# What people manage for themselves, whatever their roles: read-only people (auditors) too.
SELF_SERVICE_MODELS = frozenset({"portal.apitoken"})

# People who read the whole portfolio, restricted items included.
PORTFOLIO_READERS = (Role.EXECUTIVE, Role.AUDITOR, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN)


def policy(model_label: str, *, add: Callable[[object], bool] | None = None) -> Callable[[Policy], Policy]:
    """Declare who may do what on ``model_label``; ``add`` says who may create one."""

    def register(function: Policy) -> Policy:
        _POLICIES[model_label.lower()] = function
        _ADD_RULES[model_label.lower()] = add or (lambda user: False)
        return function

    return register


def _is_usable(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


def is_read_only(user) -> bool:
    """Auditors never write, whatever else they are."""
    return has_role(user, Role.AUDITOR)


def restrict(queryset: QuerySet, user, action: str = Action.VIEW) -> QuerySet:
    """Narrow ``queryset`` to the objects ``user`` may perform ``action`` on."""
    if action not in Action.ALL and not action.startswith("custom:"):
        raise ValueError(f"Unknown action {action!r}")
    if not _is_usable(user):
        return queryset.none()
    label = queryset.model._meta.label_lower
    try:
        model_policy = _POLICIES[label]
    except KeyError:
        raise ImproperlyConfigured(
            f"No access policy is declared for {label} in portal.permissions"
        ) from None
    if action != Action.VIEW and is_read_only(user) and label not in SELF_SERVICE_MODELS:
        return queryset.none()
    return model_policy(queryset, user, action)


def can(user, action: str, obj: Model) -> bool:
    """Whether ``user`` may perform ``action`` on this one object (asked of the database)."""
    return restrict(type(obj)._default_manager.filter(pk=obj.pk), user, action).exists()


def can_add(user, model: type[Model]) -> bool:
    """Whether ``user`` may create objects of ``model`` (there is no object to ask about yet)."""
    label = model._meta.label_lower
    if not _is_usable(user) or (is_read_only(user) and label not in SELF_SERVICE_MODELS):
        return False
    if label not in _ADD_RULES:
        raise ImproperlyConfigured(f"No access policy is declared for {label} in portal.permissions")
    return bool(_ADD_RULES[label](user))


def get_restricted_object_or_404(queryset: QuerySet, user, action: str = Action.VIEW, **lookup) -> Model:
    """The object if the user may see it (else 404) and may perform ``action`` on it (else 403)."""
    obj = restrict(queryset, user, Action.VIEW).filter(**lookup).first()
    if obj is None:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.")
    if action != Action.VIEW and not restrict(queryset, user, action).filter(pk=obj.pk).exists():
        raise PermissionDenied(
            f"You may not {action.removeprefix('custom:')} this {queryset.model._meta.verbose_name}."
        )
    return obj


def restrict_form_fields(form, user) -> None:
    """Form choice fields offer only what the person may see."""
    for form_field in form.fields.values():
        queryset = getattr(form_field, "queryset", None)
        if queryset is not None and queryset.model._meta.label_lower in _POLICIES:
            form_field.queryset = restrict(queryset, user, Action.VIEW)


def object_permission_condition(model: type[Model], user, codename: str) -> Q:
    """A condition matching objects on which ``user`` (directly or through a group) holds a
    guardian permission, to combine with other conditions in one flat WHERE clause.

    Guardian's own ``get_objects_for_user`` compares ``id::varchar`` with the text
    ``object_pk`` for every row of the table (48 of 57 ms at 5,000 use cases, see
    docs/benchmarks.md); casting the few grant rows to the integer key instead lets PostgreSQL
    use the primary key. Every model here has an integer primary key.
    """
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    content_type = ContentType.objects.get_for_model(model)
    grant = {
        "content_type": content_type,
        "permission__content_type": content_type,
        "permission__codename": codename,
    }
    object_id = Cast("object_pk", output_field=BigIntegerField())
    by_user = UserObjectPermission.objects.filter(user=user, **grant).values(object_id=object_id)
    by_group = GroupObjectPermission.objects.filter(group__user=user, **grant).values(object_id=object_id)
    return Q(pk__in=by_user) | Q(pk__in=by_group)


def with_object_permission(queryset: QuerySet, user, codename: str) -> QuerySet:
    """Objects on which ``user`` (directly or through a group) holds a guardian permission."""
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    return queryset.filter(object_permission_condition(queryset.model, user, codename))


#
# Policies
#


def _is_admin(user) -> bool:
    return has_role(user, Role.ADMIN)


def _read_all_admin_writes(queryset: QuerySet, user, action: str) -> QuerySet:
    """Configuration everyone reads and only admins change."""
    if action == Action.VIEW or _is_admin(user):
        return queryset
    return queryset.none()


policy("inventory.businessunit", add=_is_admin)(_read_all_admin_writes)


@policy("inventory.team", add=_is_admin)
def _teams(queryset: QuerySet, user, action: str) -> QuerySet:
    """Everyone sees teams. Admins change any; a team lead changes their own team (guardian
    ``change_team``, granted with the lead role); only admins delete."""
    if action == Action.VIEW or _is_admin(user):
        return queryset
    if action == Action.CHANGE:
        return with_object_permission(queryset, user, "change_team")
    return queryset.none()


@policy("costs.costsource", add=_is_admin)
def _cost_sources(queryset: QuerySet, user, action: str) -> QuerySet:
    """Billing configuration: admins configure; executives, the CoE and auditors read it."""
    if _is_admin(user):
        return queryset
    if action == Action.VIEW and has_role(user, *PORTFOLIO_READERS):
        return queryset
    return queryset.none()


@policy("costs.costimport", add=_is_admin)
def _cost_imports(queryset: QuerySet, user, action: str) -> QuerySet:
    """Billing imports: admins run them (``add``); executives, the CoE and auditors read them.
    Nobody edits or deletes one: a new delivery replaces a period. Team people see their cost
    through allocations, never the raw bill."""
    if action == Action.VIEW and has_role(user, *PORTFOLIO_READERS):
        return queryset
    return queryset.none()


policy("costs.costlineitem")(_cost_imports)


#
# Allocation, budgets and value (costs/services/allocation_engine.py, costs/selectors/budgets.py, costs/selectors/value.py)
#

COST_CURATORS = (Role.COE_LEAD, Role.COE_REVIEWER, Role.ADMIN)


def _may_curate_costs(user) -> bool:
    return has_role(user, *COST_CURATORS)


@policy("costs.allocationrule", add=_may_curate_costs)
def _allocation_config(queryset: QuerySet, user, action: str) -> QuerySet:
    """Allocation rules and shared pools: the CoE (lead and reviewers) and admins maintain
    them; executives and auditors read them. Team people see their cost, not the rules (which
    name other teams' restricted use cases)."""
    if action == Action.VIEW and has_role(user, *PORTFOLIO_READERS):
        return queryset
    if action in Action.WRITES and _may_curate_costs(user):
        return queryset
    return queryset.none()


policy("costs.sharedpool", add=_may_curate_costs)(_allocation_config)
policy("costs.sharedpoolmember", add=_may_curate_costs)(_allocation_config)


def _own_cost_condition(user, use_case_field: str = "use_case", team_field: str = "team") -> Q:
    """Cost a team person may see: of use cases their teams own and may see (restricted ones
    only through the use case's own visibility), and cost allocated to their teams."""
    from inventory.models import UseCase

    own_use_cases = restrict(UseCase.objects.all(), user, Action.VIEW).filter(
        owning_team__in=_my_team_ids(user)
    )
    own_teams = _my_team_ids(user)
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


@policy("costs.costdriver")
def _cost_drivers(queryset: QuerySet, user, action: str) -> QuerySet:
    """What drives a use case's cost: seen with that cost (readers all, a team its own)."""
    from inventory.models import UseCase

    if action != Action.VIEW:
        return queryset.none()
    if has_role(user, *PORTFOLIO_READERS):
        return queryset
    if has_role(user, *TEAM_ROLES):
        own = restrict(UseCase.objects.all(), user, Action.VIEW).filter(owning_team__in=_my_team_ids(user))
        return queryset.filter(use_case__in=own.values("pk"))
    return queryset.none()


@policy("costs.budget", add=_may_curate_costs)
def _budgets(queryset: QuerySet, user, action: str) -> QuerySet:
    """The CoE and admins set budgets; readers see all; a team sees its own budgets."""
    if action == Action.VIEW:
        if has_role(user, *PORTFOLIO_READERS):
            return queryset
        if has_role(user, *TEAM_ROLES):
            return queryset.filter(_own_cost_condition(user))
        return queryset.none()
    if action in Action.WRITES and _may_curate_costs(user):
        return queryset
    return queryset.none()


@policy("costs.budgetalert")
def _budget_alerts(queryset: QuerySet, user, action: str) -> QuerySet:
    """Alerts are read with their budget and written only by the budget check."""
    from costs.models import Budget

    if action != Action.VIEW:
        return queryset.none()
    return queryset.filter(budget__in=restrict(Budget.objects.all(), user).values("pk"))


def _may_record_value(user) -> bool:
    return has_role(user, *RISK_ASSESSORS)


@policy("costs.kpireading", add=_may_record_value)
def _kpi_readings(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case sees its KPI readings; the owning team and the CoE record and
    correct them (as for risk and maturity)."""
    if action == Action.VIEW:
        return queryset.filter(kpi__use_case__in=_visible_use_cases(user).values("pk"))
    if action in Action.WRITES:
        return queryset.filter(kpi__use_case__in=_risk_writable_use_cases(user).values("pk"))
    return queryset.none()


def may_record_kpi_reading(user, kpi) -> bool:
    """Whether the person may record a reading of this KPI (no reading exists yet to ask)."""
    from costs.models import KpiReading

    return can_add(user, KpiReading) and _risk_writable_use_cases(user).filter(pk=kpi.use_case_id).exists()


def _is_coe_lead(user) -> bool:
    return has_role(user, Role.COE_LEAD, Role.ADMIN)


@policy("approvals.lifecyclestage", add=_is_coe_lead)
def _lifecycle_stages(queryset: QuerySet, user, action: str) -> QuerySet:
    """Everyone reads the lifecycle; the CoE lead (and admins) maintain it."""
    if action == Action.VIEW or _is_coe_lead(user):
        return queryset
    return queryset.none()


policy("approvals.lifecycletransition", add=_is_coe_lead)(_lifecycle_stages)


@policy("portal.jobrun")
def _job_runs(queryset: QuerySet, user, action: str) -> QuerySet:
    """Admins and portfolio readers see every job; others see the jobs they started.

    The person who started a job may cancel it; admins cancel any. Jobs are never edited.
    """
    if action in (Action.ADD, Action.CHANGE, Action.DELETE):
        return queryset.none()
    if _is_admin(user):
        return queryset
    if action == Action.VIEW and has_role(user, *PORTFOLIO_READERS):
        return queryset
    if action in (Action.VIEW, "custom:cancel"):
        return queryset.filter(actor=user)
    return queryset.none()


@policy("portal.auditentry")
def _audit_entries(queryset: QuerySet, user, action: str) -> QuerySet:
    """The global audit log is for auditors and admins. Nobody changes it, ever.

    Other people see an object's history through :func:`history_for`, which first asks
    whether they may see the object.
    """
    if action == Action.VIEW and has_role(user, Role.AUDITOR, Role.ADMIN):
        return queryset
    return queryset.none()


@policy("portal.apitoken", add=lambda user: True)
def _api_tokens(queryset: QuerySet, user, action: str) -> QuerySet:
    """People see and revoke their own tokens; admins see and revoke every token and issue
    machine tokens. Tokens are never edited: revoke and create a new one."""
    if action == Action.ADD:
        return queryset.filter(user=user) if not _is_admin(user) else queryset
    if action == Action.CHANGE:
        return queryset.none()
    if _is_admin(user):
        return queryset
    return queryset.filter(user=user)


@policy("portal.user", add=_is_admin)
def _people(queryset: QuerySet, user, action: str) -> QuerySet:
    """Everyone sees who is who (owners must be findable); admins manage accounts and roles."""
    if action == Action.VIEW or _is_admin(user):
        return queryset
    return queryset.none()


#
# The catalog: use cases and what they are built from
#

TEAM_ROLES = (Role.TEAM_MEMBER, Role.TEAM_LEAD)


def _has_any_role(user) -> bool:
    from portal.roles import roles_of

    return bool(roles_of(user))


def _my_team_ids(user) -> QuerySet:
    """The teams whose group the person is in: team permissions flow through team groups."""
    from inventory.models import Team

    return Team.objects.filter(group__user=user).values("pk")


def _team_or_granted(model: type[Model], user, codename: str, team_field: str = "owning_team_id") -> Q:
    """The person's teams own it, or it was shared with them (or one of their groups) through a
    guardian grant: one flat condition, so the database sees a single WHERE clause."""
    own = Q(**{f"{team_field}__in": _my_team_ids(user)})
    return own | object_permission_condition(model, user, codename)


def _may_file(user) -> bool:
    return has_role(user, *TEAM_ROLES, Role.ADMIN)


@policy("inventory.usecase", add=_may_file)
def _use_cases(queryset: QuerySet, user, action: str) -> QuerySet:
    """Readers see everything; team people see every normal use case and their own team's
    restricted ones; the owning team changes its use cases and deletes its drafts; the CoE
    reassigns owners. Anything else shared one by one is a guardian grant."""
    from inventory.choices import VisibilityChoices

    if action == Action.DELETE:
        # Only drafts are deleted, by admins too: a submitted use case has a lifecycle history
        # (gates, audit, costs) that must outlive it; it is retired instead.
        drafts = queryset.filter(lifecycle_stage__isnull=True)
        if _is_admin(user):
            return drafts
        return drafts.filter(_team_or_granted(queryset.model, user, "delete_usecase"))
    if _is_admin(user):
        return queryset
    model = queryset.model
    if action == Action.VIEW:
        if has_role(user, *PORTFOLIO_READERS):
            return queryset
        visible = _team_or_granted(model, user, "view_usecase")
        under_review = _under_review_by(user)
        if under_review is not None:
            visible |= under_review
        if has_role(user, *TEAM_ROLES):
            return queryset.filter(Q(visibility=VisibilityChoices.NORMAL) | visible)
        return queryset.filter(visible)
    if action in (Action.CHANGE, "custom:submit"):
        return queryset.filter(_team_or_granted(model, user, "change_usecase"))
    if action == "custom:reassign":
        return queryset if has_role(user, Role.COE_REVIEWER, Role.COE_LEAD) else queryset.none()
    return queryset.none()


# Approver roles that read nothing of the portfolio but what a gate asks them to decide.
REVIEW_ONLY_APPROVER_ROLES = (Role.SECURITY_REVIEWER, Role.LEGAL_REVIEWER)


def _under_review_by(user) -> Q | None:
    """Use cases whose gate requests name a review-only approver role the person holds.

    Security and legal reviewers are asked by gate policies to decide, so they must read the
    request, its use case (restricted ones too) and its evidence, or no quorum that names them
    can ever be reached. They read only those use cases, and never change them; the request's
    frozen ``quorum`` (not today's policy) says whom it asked, so past reviews stay readable.
    """
    from approvals.models import ApprovalRequest

    roles = [role for role in REVIEW_ONLY_APPROVER_ROLES if has_role(user, role)]
    if not roles:
        return None
    names_my_role = Q()
    for role in roles:
        names_my_role |= Q(quorum__has_key=role)
    return Q(pk__in=ApprovalRequest.objects.filter(names_my_role).values("use_case_id"))


def _team_asset_policy(queryset: QuerySet, user, action: str) -> QuerySet:
    """Shared assets: everyone with a role sees them (reuse beats rebuilding); the owning team
    maintains them."""
    if _is_admin(user):
        return queryset
    if action == Action.VIEW:
        return queryset if _has_any_role(user) else queryset.none()
    if action in (Action.CHANGE, Action.DELETE):
        return queryset.filter(owning_team_id__in=_my_team_ids(user))
    return queryset.none()


for _label in (
    "inventory.component",
    "inventory.datasource",
    "inventory.model",
    "inventory.prompttemplate",
    "inventory.dataset",
):
    policy(_label, add=_may_file)(_team_asset_policy)


def _via_parent(parent_model_label: str, parent_field: str):
    """Versions follow the permissions of what they are versions of."""

    def parent_policy(queryset: QuerySet, user, action: str) -> QuerySet:
        from django.apps import apps

        parent = apps.get_model(parent_model_label)
        parent_action = Action.VIEW if action == Action.VIEW else Action.CHANGE
        return queryset.filter(
            **{f"{parent_field}__in": restrict(parent.objects.all(), user, parent_action).values("pk")}
        )

    return parent_policy


policy("inventory.modelversion", add=_may_file)(_via_parent("inventory.model", "model"))
policy("inventory.promptversion", add=_may_file)(_via_parent("inventory.prompttemplate", "template"))
policy("inventory.datasetversion", add=_may_file)(_via_parent("inventory.dataset", "dataset"))
policy("inventory.kpi", add=_may_file)(_via_parent("inventory.usecase", "use_case"))


@policy("inventory.release", add=_may_file)
def _releases(queryset: QuerySet, user, action: str) -> QuerySet:
    """A release follows its use case; once an approval or deployment used it, it never changes."""
    from inventory.models import UseCase

    if action == Action.VIEW:
        return queryset.filter(use_case__in=restrict(UseCase.objects.all(), user, Action.VIEW).values("pk"))
    writable = queryset.filter(use_case__in=restrict(UseCase.objects.all(), user, Action.CHANGE).values("pk"))
    return writable.filter(frozen_at__isnull=True) if action in (Action.CHANGE, Action.DELETE) else writable


policy("inventory.environment", add=_is_admin)(_read_all_admin_writes)


@policy("inventory.notduplicate", add=_has_any_role)
def _not_duplicates(queryset: QuerySet, user, action: str) -> QuerySet:
    """Anyone who sees both use cases may say they are not duplicates; the CoE may undo it."""
    from inventory.models import UseCase

    visible = restrict(UseCase.objects.all(), user, Action.VIEW).values("pk")
    mine = queryset.filter(first__in=visible, second__in=visible)
    if action == Action.VIEW:
        return mine
    if action == Action.DELETE and has_role(user, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN):
        return mine
    return queryset.none()


def may_file_for_team(user, team) -> bool:
    """People file use cases and assets for teams they belong to; admins for any team."""
    if not _is_usable(user) or is_read_only(user):
        return False
    return _is_admin(user) or team.group.user_set.filter(pk=user.pk).exists()


#
# Risk classification: assessments and the risk register follow their use case
#

RISK_ASSESSORS = (*TEAM_ROLES, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN)


def _may_assess(user) -> bool:
    return has_role(user, *RISK_ASSESSORS)


def _risk_writable_use_cases(user) -> QuerySet:
    """Use cases whose risk the person may assess: the owning team (through its group's grant)
    those it may change, the CoE every use case it sees, admins all."""
    from inventory.models import UseCase

    use_cases = UseCase.objects.all()
    if has_role(user, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN):
        return restrict(use_cases, user, Action.VIEW)
    if has_role(user, *TEAM_ROLES):
        return restrict(use_cases, user, Action.CHANGE)
    return use_cases.none()


def _visible_use_cases(user) -> QuerySet:
    from inventory.models import UseCase

    return restrict(UseCase.objects.all(), user, Action.VIEW)


@policy("approvals.riskassessment", add=_may_assess)
def _risk_assessments(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its assessments; the owning team and the CoE record new
    versions; nobody changes or deletes one (append-only), admins included."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=_visible_use_cases(user).values("pk"))
    if action == Action.ADD:
        return queryset.filter(use_case__in=_risk_writable_use_cases(user).values("pk"))
    return queryset.none()


@policy("approvals.riskregisterentry", add=_may_assess)
def _risk_register_entries(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its register; the owning team and the CoE maintain it."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=_visible_use_cases(user).values("pk"))
    if action in Action.WRITES:
        return queryset.filter(use_case__in=_risk_writable_use_cases(user).values("pk"))
    return queryset.none()


def may_assess_risk(user, use_case) -> bool:
    """Whether the person may record an assessment or add a register entry for this use case
    (there is no object yet to ask :func:`can` about)."""
    from approvals.models import RiskAssessment

    return can_add(user, RiskAssessment) and _risk_writable_use_cases(user).filter(pk=use_case.pk).exists()


#
# Maturity assessment: assessments and evidence follow their use case
#


@policy("approvals.maturityassessment", add=_may_assess)
def _maturity_assessments(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its maturity; the owning team and the CoE reassess it
    (a new version); nobody changes or deletes one (append-only), admins included."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=_visible_use_cases(user).values("pk"))
    if action == Action.ADD:
        return queryset.filter(use_case__in=_risk_writable_use_cases(user).values("pk"))
    return queryset.none()


@policy("approvals.maturityevidence", add=_may_assess)
def _maturity_evidence(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its evidence; the owning team and the CoE add and
    withdraw it. Evidence is never edited or deleted: withdrawing keeps it for the record."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=_visible_use_cases(user).values("pk"))
    if action in (Action.ADD, "custom:withdraw"):
        return queryset.filter(use_case__in=_risk_writable_use_cases(user).values("pk"))
    return queryset.none()


def may_maintain_maturity(user, use_case) -> bool:
    """Whether the person may add evidence to or reassess this use case's maturity."""
    from approvals.models import MaturityEvidence

    return can_add(user, MaturityEvidence) and _risk_writable_use_cases(user).filter(pk=use_case.pk).exists()


#
# Gates: policies, approval requests and their decisions, comments and events
#

APPROVER_ROLE_NAMES = (Role.COE_REVIEWER, Role.COE_LEAD, Role.SECURITY_REVIEWER, Role.LEGAL_REVIEWER)

# Everyone reads what a gate asks (teams prepare for it); the CoE lead and admins maintain it.
policy("approvals.gatepolicy", add=_is_coe_lead)(_lifecycle_stages)
policy("approvals.gateapproverrequirement", add=_is_coe_lead)(_lifecycle_stages)


def _changeable_use_cases(user) -> QuerySet:
    from inventory.models import UseCase

    return restrict(UseCase.objects.all(), user, Action.CHANGE)


@policy("approvals.approvalrequest", add=_may_file)
def _approval_requests(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case sees its gate requests. The owning team asks, resubmits and
    withdraws; holders of an approver role decide (the service refuses the requester, owners
    and owning team: segregation of duties); the CoE lead revokes; the owning team and the CoE
    lead re-certify; the owning team and approvers comment. Nobody edits or deletes a request."""
    visible = queryset.filter(use_case__in=_visible_use_cases(user).values("pk"))
    if action == Action.VIEW:
        return visible
    owning_team = visible.filter(use_case__in=_changeable_use_cases(user).values("pk"))
    if action in (Action.ADD, "custom:withdraw", "custom:resubmit"):
        return owning_team
    if action == "custom:decide":
        return visible if has_role(user, *APPROVER_ROLE_NAMES) else queryset.none()
    if action == "custom:revoke":
        return visible if _is_coe_lead(user) else queryset.none()
    if action == "custom:recertify":
        return visible if _is_coe_lead(user) else owning_team
    if action == "custom:comment":
        return visible if has_role(user, *APPROVER_ROLE_NAMES, Role.ADMIN) else owning_team
    return queryset.none()


def _follows_request(queryset: QuerySet, user, action: str) -> QuerySet:
    """Decisions, comments and events are read with their request and written only through
    the request's actions (append-only)."""
    from approvals.models import ApprovalRequest

    if action != Action.VIEW:
        return queryset.none()
    return queryset.filter(request__in=restrict(ApprovalRequest.objects.all(), user).values("pk"))


for _label in ("approvals.approvaldecision", "approvals.approvalcomment", "approvals.approvalevent"):
    policy(_label)(_follows_request)


@policy("portal.notification")
def _notifications(queryset: QuerySet, user, action: str) -> QuerySet:
    """People see the notifications sent to them; admins see all (to diagnose delivery)."""
    if action != Action.VIEW:
        return queryset.none()
    return queryset if _is_admin(user) else queryset.filter(recipient=user)


def may_request_gate(user, use_case) -> bool:
    """The owning team (and admins) ask for gates of their use cases."""
    from approvals.models import ApprovalRequest

    return can_add(user, ApprovalRequest) and _changeable_use_cases(user).filter(pk=use_case.pk).exists()


def may_move_stage(user, use_case) -> bool:
    """Moves that need no gate (e.g. → on hold) are for the owning team and the CoE."""
    if not _is_usable(user) or is_read_only(user):
        return False
    if has_role(user, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN):
        return restrict(type(use_case).objects.filter(pk=use_case.pk), user).exists()
    return _changeable_use_cases(user).filter(pk=use_case.pk).exists()


def may_view_coe_metrics(user) -> bool:
    """CoE metrics (time to decision, queue length) are for the people who run or oversee the
    gates; they count requests of every team, restricted ones included, but name none."""
    return _is_usable(user) and has_role(
        user, Role.COE_REVIEWER, Role.COE_LEAD, Role.EXECUTIVE, Role.AUDITOR, Role.ADMIN
    )
