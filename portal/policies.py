"""The plumbing's own permission policies (jobs, the audit trail, API tokens, people,
notifications) and the role predicates every app builds on.

Imported from ``PortalConfig.ready()`` so the ``@policy`` registrations run.
"""

from django.db.models import QuerySet

from portal.permissions import Action, policy
from portal.roles import Role, has_role, roles_of

# People who read the whole portfolio, restricted items included.
PORTFOLIO_READERS = (Role.EXECUTIVE, Role.AUDITOR, Role.COE_REVIEWER, Role.COE_LEAD, Role.ADMIN)


def is_admin(user) -> bool:
    return has_role(user, Role.ADMIN)


def has_any_role(user) -> bool:
    """Whether the person holds any role in the portfolio (a bare account holds none)."""
    return bool(roles_of(user))


def reads_whole_portfolio(user) -> bool:
    return has_role(user, *PORTFOLIO_READERS)


def may_read_audit_log(user) -> bool:
    """The global audit log is for auditors and admins."""
    return has_role(user, Role.AUDITOR, Role.ADMIN)


def may_issue_tokens_for_others(user) -> bool:
    """Admins issue machine tokens and tokens for other people."""
    return is_admin(user)


def may_use_admin_site(user) -> bool:
    return is_admin(user)


@policy("portal.jobrun")
def _job_runs(queryset: QuerySet, user, action: str) -> QuerySet:
    """Admins and portfolio readers see every job; others see the jobs they started.

    The person who started a job may cancel it; admins cancel any. Jobs are never edited.
    """
    if action in (Action.ADD, Action.CHANGE, Action.DELETE):
        return queryset.none()
    if is_admin(user):
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
    if action == Action.VIEW and may_read_audit_log(user):
        return queryset
    return queryset.none()


@policy("portal.apitoken", add=lambda user: True)
def _api_tokens(queryset: QuerySet, user, action: str) -> QuerySet:
    """People see and revoke their own tokens; admins see and revoke every token and issue
    machine tokens. Tokens are never edited: revoke and create a new one."""
    if action == Action.ADD:
        return queryset.filter(user=user) if not is_admin(user) else queryset
    if action == Action.CHANGE:
        return queryset.none()
    if is_admin(user):
        return queryset
    return queryset.filter(user=user)


@policy("portal.user", add=is_admin)
def _people(queryset: QuerySet, user, action: str) -> QuerySet:
    """Everyone sees who is who (owners must be findable); admins manage accounts and roles."""
    if action == Action.VIEW or is_admin(user):
        return queryset
    return queryset.none()


@policy("portal.notification")
def _notifications(queryset: QuerySet, user, action: str) -> QuerySet:
    """People see the notifications sent to them; admins see all (to diagnose delivery) and
    resend the failed ones (the service refuses a sent one)."""
    if action == "custom:resend":
        return queryset if is_admin(user) else queryset.none()
    if action != Action.VIEW:
        return queryset.none()
    return queryset if is_admin(user) else queryset.filter(recipient=user)
