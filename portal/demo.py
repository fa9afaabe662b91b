"""The demo portfolio the quick start loads. Safe to load again: it finds what exists.

The story (DESIGN.md §1): a company with AI pilots scattered across its business units. This
module creates the people; each app registers its part of the story (``register()``, from its
``AppConfig.ready()``) in the order the parts depend on each other.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from portal.roles import Role, role_groups

# Every demo account shares this password; the quick start refuses to run in production.
DEMO_PASSWORD = "propylon-demo"  # noqa: S105  (documented demo credential, development only)


@dataclass(frozen=True)
class DemoPerson:
    username: str
    first_name: str
    last_name: str
    title: str
    roles: tuple[str, ...]
    persona: str = ""  # set for the accounts the README lists for signing in
    active: bool = True


PEOPLE = (
    DemoPerson(
        "lead", "Lena", "Lund", "Support Automation lead", (Role.TEAM_LEAD, Role.TEAM_MEMBER), "Team lead"
    ),
    DemoPerson("reviewer", "Ravi", "Rao", "AI CoE reviewer", (Role.COE_REVIEWER,), "CoE reviewer"),
    DemoPerson(
        "coelead", "Carmen", "Ortiz", "Head of the AI CoE", (Role.COE_LEAD, Role.COE_REVIEWER), "CoE lead"
    ),
    DemoPerson(
        "security", "Samir", "Sato", "Security architect", (Role.SECURITY_REVIEWER,), "Security reviewer"
    ),
    DemoPerson("legal", "Leila", "Brooks", "Privacy counsel", (Role.LEGAL_REVIEWER,), "Legal reviewer"),
    DemoPerson("cto", "Claire", "Chen", "Chief Technology Officer", (Role.EXECUTIVE,), "CTO"),
    DemoPerson("auditor", "Aksel", "Olsen", "Internal audit", (Role.AUDITOR,), "Auditor"),
    DemoPerson("admin", "Ada", "Admin", "Platform administrator", (Role.ADMIN,), "Administrator"),
    DemoPerson("priya", "Priya", "Nair", "ML engineer", (Role.TEAM_MEMBER,)),
    DemoPerson("jonas", "Jonas", "Weber", "Legal engineering lead", (Role.TEAM_LEAD, Role.TEAM_MEMBER)),
    DemoPerson("mei", "Mei", "Tanaka", "Data scientist", (Role.TEAM_MEMBER,)),
    DemoPerson("omar", "Omar", "Haddad", "Platform lead", (Role.TEAM_LEAD, Role.TEAM_MEMBER)),
    DemoPerson("sofia", "Sofia", "Rossi", "Analytics lead", (Role.TEAM_LEAD, Role.TEAM_MEMBER)),
    DemoPerson("felix", "Felix", "Brandt", "Finance analytics lead", (Role.TEAM_LEAD, Role.TEAM_MEMBER)),
    DemoPerson("hana", "Hana", "Kim", "People analytics lead", (Role.TEAM_LEAD, Role.TEAM_MEMBER)),
    # Built the contract-search pilot, then left the company: directory sync deactivated him.
    DemoPerson("dmitri", "Dmitri", "Volkov", "Data scientist (left)", (Role.TEAM_MEMBER,), active=False),
)


def _people() -> dict:
    User = get_user_model()
    people = {}
    for person in PEOPLE:
        user, created = User.objects.get_or_create(
            username=person.username,
            defaults={
                "first_name": person.first_name,
                "last_name": person.last_name,
                "title": person.title,
                "email": f"{person.username}@example.com",
                "is_active": person.active,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            if Role.ADMIN in person.roles:
                # The admin persona also gets Django's admin site for configuration.
                user.is_staff = True
                user.is_superuser = True
            user.save()
        user.groups.add(*role_groups(*person.roles))
        people[person.username] = user
    return people


@dataclass(frozen=True)
class DemoSection:
    title: str
    load: Callable[[dict], None]  # takes the demo people by username
    order: int


_SECTIONS: list[DemoSection] = []


def register(title: str, load: Callable[[dict], None], *, order: int) -> None:
    """Add an app's part of the story; apps call it from ``AppConfig.ready()``.

    Sections run by ``order``, lowest first: a section comes after the ones whose records it
    uses (the organisation 10, the catalog 20, risk 30, billing 40, allocation 50, maturity 60,
    gates 70).
    """
    if any(section.title == title for section in _SECTIONS):
        raise ValueError(f"A demo section “{title}” is already registered.")
    _SECTIONS.append(DemoSection(title=title, load=load, order=order))


def demo_sections() -> list[DemoSection]:
    return sorted(_SECTIONS, key=lambda section: section.order)


@transaction.atomic
def load_demo_portfolio(report: Callable[[str], None] = lambda line: None) -> dict:
    """Create (or complete) the demo portfolio; returns the demo people by username."""
    people = _people()
    report(f"People: {len(people)} accounts")
    for section in demo_sections():
        section.load(people)
        report(f"{section.title}: loaded")
    return people


def persona_accounts() -> list[DemoPerson]:
    return [person for person in PEOPLE if person.persona]
