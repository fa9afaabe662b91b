"""The roles people hold, declared once. Each role is a Django group of the same name.

A data migration creates the groups; code asks ``has_role(user, Role.COE_REVIEWER)`` instead of
spelling group names, so renaming a role is one edit here plus a migration.
"""

from dataclasses import dataclass

from django.contrib.auth.models import Group


@dataclass(frozen=True)
class RoleInfo:
    name: str
    label: str
    description: str


class Role:
    TEAM_MEMBER = "team-member"
    TEAM_LEAD = "team-lead"
    COE_REVIEWER = "coe-reviewer"
    COE_LEAD = "coe-lead"
    EXECUTIVE = "executive"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # Gate approvers named by gate policies (approvals.GateApproverRequirement).
    SECURITY_REVIEWER = "security-reviewer"
    LEGAL_REVIEWER = "legal-reviewer"


ROLES: tuple[RoleInfo, ...] = (
    RoleInfo(Role.TEAM_MEMBER, "Team member", "Works on a team's use cases; sees the open portfolio."),
    RoleInfo(Role.TEAM_LEAD, "Team lead", "Files and runs their team's use cases and asks for gates."),
    RoleInfo(Role.COE_REVIEWER, "CoE reviewer", "Reviews gate requests and runs audits."),
    RoleInfo(Role.COE_LEAD, "CoE lead", "Maintains lifecycle, gate policies and revokes approvals."),
    RoleInfo(Role.EXECUTIVE, "Executive", "Reviews the whole portfolio, restricted items included."),
    RoleInfo(Role.AUDITOR, "Auditor", "Reads everything and exports evidence; never writes."),
    RoleInfo(Role.ADMIN, "Administrator", "Configures sources, roles, frameworks and schedules."),
    RoleInfo(Role.SECURITY_REVIEWER, "Security reviewer", "Signs off gates whose policy needs security."),
    RoleInfo(Role.LEGAL_REVIEWER, "Legal reviewer", "Signs off gates whose policy needs legal."),
)
ROLE_NAMES = tuple(role.name for role in ROLES)
ROLE_LABELS = {role.name: role.label for role in ROLES}


def roles_of(user) -> frozenset[str]:
    """The role names a user holds, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_propylon_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=ROLE_NAMES).values_list("name", flat=True))
        if user.is_superuser:
            names.add(Role.ADMIN)
        cached = frozenset(names)
        user._propylon_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    """True when the user holds any of the given roles."""
    return bool(roles_of(user) & set(roles))


def role_groups(*names: str):
    """The groups of these roles, created if missing (a migration creates them; a database
    flushed by a test, or restored partially, may not have them)."""

    unknown = set(names) - set(ROLE_NAMES)
    if unknown:
        raise ValueError(f"Unknown role(s): {', '.join(sorted(unknown))}")
    return [Group.objects.get_or_create(name=name)[0] for name in names]
