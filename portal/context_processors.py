"""Template context every page needs: the navigation this person may use, and their roles."""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from portal.policies import has_any_role, may_read_audit_log, may_use_admin_site
from portal.roles import ROLE_LABELS, roles_of


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    section: str  # matched against the first path segment to highlight the current section


@dataclass(frozen=True)
class _AppNavItem:
    label: str
    url_name: str
    section: str
    visible: Callable[[object], bool]


# Sections an app above portal adds from its AppConfig.ready() (portal imports no domain app).
_app_items: list[_AppNavItem] = []


def register(*, label: str, url_name: str, section: str, visible: Callable[[object], bool]) -> None:
    """Add a section to the main navigation, shown (before Jobs) to whoever ``visible(user)``."""
    if all(item.url_name != url_name for item in _app_items):
        _app_items.append(_AppNavItem(label, url_name, section, visible))


def navigation_for(user) -> list[NavItem]:
    if not getattr(user, "is_authenticated", False):
        return []
    items = [
        NavItem("Home", reverse("home"), ""),
        NavItem("Use cases", reverse("inventory:usecase-list"), "use-cases"),
        NavItem("Teams", reverse("inventory:team-list"), "teams"),
        NavItem("Business units", reverse("inventory:business-unit-list"), "business-units"),
        NavItem("Gates", reverse("approvals:gate-queue"), "gates"),
        # Everyone with a role sees the findings of the use cases they read (or that they own).
        *([NavItem("Findings", reverse("approvals:finding-list"), "findings")] if has_any_role(user) else []),
        # Everyone with a role sees cost (a team its own); sources and imports hang off /costs/.
        *([NavItem("Costs", reverse("costs:portfolio"), "costs")] if has_any_role(user) else []),
        *(
            NavItem(item.label, reverse(item.url_name), item.section)
            for item in _app_items
            if item.visible(user)
        ),
        NavItem("Jobs", reverse("jobs:list"), "jobs"),
        *([NavItem("Audit log", reverse("portal:audit-log"), "audit")] if may_read_audit_log(user) else []),
        NavItem("API", reverse("api:docs"), "api"),
    ]
    if may_use_admin_site(user):
        items.append(NavItem("Admin", reverse("admin:index"), "admin"))
    return items


def portal(request) -> dict:
    user = getattr(request, "user", None)
    current_section = request.path.strip("/").split("/", 1)[0]
    return {
        "nav_items": navigation_for(user),
        "nav_section": current_section,
        "user_role_labels": [ROLE_LABELS[name] for name in sorted(roles_of(user))] if user else [],
        "propylon_environment": settings.PROPYLON_ENV,
        "sso_enabled": settings.PROPYLON_OIDC_ENABLED,
        "sso_provider_name": settings.PROPYLON_OIDC_PROVIDER_NAME,
    }
