"""Who may do what in governance: the lifecycle, gates and their requests, risk and maturity.

Imported from ``ApprovalsConfig.ready()`` so the ``@policy`` registrations run. Assessments
follow their use case, through the inventory's helpers.
"""

from django.db.models import Q, QuerySet

from approvals.models import ApprovalRequest, Finding, MaturityEvidence, RiskAssessment
from inventory.policies import (
    assessable_use_cases,
    changeable_use_cases,
    is_assessor,
    may_file,
    register_use_case_readers,
    visible_use_cases,
)
from portal.permissions import Action, can_add, is_read_only, is_usable, policy, restrict
from portal.roles import Role, has_role

APPROVER_ROLE_NAMES = (Role.COE_REVIEWER, Role.COE_LEAD, Role.SECURITY_REVIEWER, Role.LEGAL_REVIEWER)

# Approver roles that read nothing of the portfolio but what a gate asks them to decide.
REVIEW_ONLY_APPROVER_ROLES = (Role.SECURITY_REVIEWER, Role.LEGAL_REVIEWER)


def _is_coe_lead(user) -> bool:
    return has_role(user, Role.COE_LEAD, Role.ADMIN)


@register_use_case_readers
def _under_review_by(user) -> Q | None:
    """Use cases whose gate requests name a review-only approver role the person holds.

    Security and legal reviewers are asked by gate policies to decide, so they must read the
    request, its use case (restricted ones too) and its evidence, or no quorum that names them
    can ever be reached. They read only those use cases, and never change them; the request's
    frozen ``quorum`` (not today's policy) says whom it asked, so past reviews stay readable.
    """
    roles = [role for role in REVIEW_ONLY_APPROVER_ROLES if has_role(user, role)]
    if not roles:
        return None
    names_my_role = Q()
    for role in roles:
        names_my_role |= Q(quorum__has_key=role)
    return Q(pk__in=ApprovalRequest.objects.filter(names_my_role).values("use_case_id"))


#
# The lifecycle and what a gate asks: everyone reads them (teams prepare for a gate); the CoE
# lead and admins maintain them.
#


@policy("approvals.lifecyclestage", add=_is_coe_lead)
def _lifecycle_stages(queryset: QuerySet, user, action: str) -> QuerySet:
    """Everyone reads the lifecycle; the CoE lead (and admins) maintain it."""
    if action == Action.VIEW or _is_coe_lead(user):
        return queryset
    return queryset.none()


policy("approvals.lifecycletransition", add=_is_coe_lead)(_lifecycle_stages)
policy("approvals.gatepolicy", add=_is_coe_lead)(_lifecycle_stages)
policy("approvals.gateapproverrequirement", add=_is_coe_lead)(_lifecycle_stages)


#
# Risk classification: assessments and the risk register follow their use case
#


@policy("approvals.riskassessment", add=is_assessor)
def _risk_assessments(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its assessments; the owning team and the CoE record new
    versions; nobody changes or deletes one (append-only), admins included."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=visible_use_cases(user).values("pk"))
    if action == Action.ADD:
        return queryset.filter(use_case__in=assessable_use_cases(user).values("pk"))
    return queryset.none()


@policy("approvals.riskregisterentry", add=is_assessor)
def _risk_register_entries(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its register; the owning team and the CoE maintain it."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=visible_use_cases(user).values("pk"))
    if action in Action.WRITES:
        return queryset.filter(use_case__in=assessable_use_cases(user).values("pk"))
    return queryset.none()


#
# Maturity assessment: assessments and evidence follow their use case
#


@policy("approvals.maturityassessment", add=is_assessor)
def _maturity_assessments(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its maturity; the owning team and the CoE reassess it
    (a new version); nobody changes or deletes one (append-only), admins included."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=visible_use_cases(user).values("pk"))
    if action == Action.ADD:
        return queryset.filter(use_case__in=assessable_use_cases(user).values("pk"))
    return queryset.none()


@policy("approvals.maturityevidence", add=is_assessor)
def _maturity_evidence(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case reads its evidence; the owning team and the CoE add and
    withdraw it. Evidence is never edited or deleted: withdrawing keeps it for the record."""
    if action == Action.VIEW:
        return queryset.filter(use_case__in=visible_use_cases(user).values("pk"))
    if action in (Action.ADD, "custom:withdraw"):
        return queryset.filter(use_case__in=assessable_use_cases(user).values("pk"))
    return queryset.none()


#
# Gates: approval requests and their decisions, comments and events
#


@policy("approvals.approvalrequest", add=may_file)
def _approval_requests(queryset: QuerySet, user, action: str) -> QuerySet:
    """Whoever sees the use case sees its gate requests. The owning team asks, resubmits and
    withdraws; holders of an approver role decide (the service refuses the requester, owners
    and owning team: segregation of duties); the CoE lead revokes; the owning team and the CoE
    lead re-certify; the owning team and approvers comment. Nobody edits or deletes a request."""
    visible = queryset.filter(use_case__in=visible_use_cases(user).values("pk"))
    if action == Action.VIEW:
        return visible
    owning_team = visible.filter(use_case__in=changeable_use_cases(user).values("pk"))
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
    if action != Action.VIEW:
        return queryset.none()
    return queryset.filter(request__in=restrict(ApprovalRequest.objects.all(), user).values("pk"))


for _label in ("approvals.approvaldecision", "approvals.approvalcomment", "approvals.approvalevent"):
    policy(_label)(_follows_request)


#
# Audits and findings: whoever sees the use case sees its findings; portfolio-wide findings (no use
# case) are for the people who oversee the portfolio. The owner, the owning team and the CoE work
# them; accepting a risk is an approver's decision.
#

PORTFOLIO_OVERSIGHT_ROLES = (Role.COE_REVIEWER, Role.COE_LEAD, Role.EXECUTIVE, Role.AUDITOR, Role.ADMIN)
COE_ROLES = (Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN)


def may_run_audits(user) -> bool:
    """The CoE and admins audit the portfolio; a team re-checks its own use case (the run's
    use case is then checked against what the person may change)."""
    return is_usable(user) and not is_read_only(user) and (has_role(user, *COE_ROLES) or may_file(user))


def _oversees_portfolio(user) -> bool:
    return is_usable(user) and has_role(user, *PORTFOLIO_OVERSIGHT_ROLES)


@policy("approvals.auditrun", add=may_run_audits)
def _audit_runs(queryset: QuerySet, user, action: str) -> QuerySet:
    """Runs over the portfolio are for its overseers; a run over one use case is read by whoever
    reads that use case. Runs are written by the audit service only."""
    if action != Action.VIEW:
        return queryset.none()
    if _oversees_portfolio(user):
        return queryset
    return queryset.filter(use_case__in=visible_use_cases(user).values("pk"))


@policy("approvals.finding")
def _findings(queryset: QuerySet, user, action: str) -> QuerySet:
    """Findings are raised by audits (nobody adds or deletes one). Readers of the use case read
    its findings; the portfolio's overseers read all. The owner, the owning team and the CoE
    acknowledge, resolve and comment; CoE approvers accept a risk."""
    if _oversees_portfolio(user):
        visible = queryset
    else:
        visible = queryset.filter(Q(use_case__in=visible_use_cases(user).values("pk")) | Q(owner=user))
    if action == Action.VIEW:
        return visible
    if is_read_only(user):
        return queryset.none()
    if action in ("custom:acknowledge", "custom:resolve", "custom:comment"):
        if has_role(user, *COE_ROLES):
            return visible
        return visible.filter(Q(owner=user) | Q(use_case__in=changeable_use_cases(user).values("pk")))
    if action == "custom:accept_risk":
        return visible if has_role(user, *COE_ROLES) else queryset.none()
    return queryset.none()


@policy("approvals.findingevent")
def _finding_events(queryset: QuerySet, user, action: str) -> QuerySet:
    """Read with their finding; written only through the finding's actions (append-only)."""
    if action != Action.VIEW:
        return queryset.none()
    return queryset.filter(finding__in=restrict(Finding.objects.all(), user).values("pk"))


def may_audit_portfolio(user) -> bool:
    """A run over the whole portfolio is for the CoE and admins."""
    return may_run_audits(user) and has_role(user, *COE_ROLES)


def may_audit_use_case(user, use_case) -> bool:
    """A run over one use case: the CoE and admins for any use case they see, the owning team
    for its own (those it may assess)."""
    return may_run_audits(user) and assessable_use_cases(user).filter(pk=use_case.pk).exists()


def may_accept_finding_risk(user) -> bool:
    return is_usable(user) and not is_read_only(user) and has_role(user, *COE_ROLES)


#
# Page-level predicates: what a page offers, beside the policies that decide the rows
#


def may_assess_risk(user, use_case) -> bool:
    """Whether the person may record an assessment or add a register entry for this use case
    (there is no object yet to ask :func:`can` about)."""
    return can_add(user, RiskAssessment) and assessable_use_cases(user).filter(pk=use_case.pk).exists()


def may_maintain_maturity(user, use_case) -> bool:
    """Whether the person may add evidence to or reassess this use case's maturity."""
    return can_add(user, MaturityEvidence) and assessable_use_cases(user).filter(pk=use_case.pk).exists()


def may_request_gate(user, use_case) -> bool:
    """The owning team (and admins) ask for gates of their use cases."""
    return can_add(user, ApprovalRequest) and changeable_use_cases(user).filter(pk=use_case.pk).exists()


def may_move_stage(user, use_case) -> bool:
    """Moves that need no gate (e.g. → on hold) are for the owning team and the CoE."""
    if not is_usable(user) or is_read_only(user):
        return False
    if has_role(user, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN):
        return restrict(type(use_case).objects.filter(pk=use_case.pk), user).exists()
    return changeable_use_cases(user).filter(pk=use_case.pk).exists()


def may_view_coe_metrics(user) -> bool:
    """CoE metrics (time to decision, queue length) are for the people who run or oversee the
    gates; they count requests of every team, restricted ones included, but name none."""
    return is_usable(user) and has_role(
        user, Role.COE_REVIEWER, Role.COE_LEAD, Role.EXECUTIVE, Role.AUDITOR, Role.ADMIN
    )
