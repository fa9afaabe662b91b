"""The demo portfolio the quick start loads. Safe to load again: it finds what exists.

The story (DESIGN.md §1): a company with AI pilots scattered across its business units. This
module creates the people and the organisation; later capabilities add their part of the story
to ``DEMO_SECTIONS`` in the order they depend on each other.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from inventory.models import BusinessUnit, Team
from inventory.services import business_unit_create, team_create, team_set_members
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

BUSINESS_UNITS = (
    # slug, name, head, description
    ("customer-operations", "Customer Operations", "cto", "Support, contact centre and customer success."),
    ("legal-compliance", "Legal & Compliance", "cto", "Contracts, regulatory affairs and privacy."),
    ("engineering-platform", "Engineering Platform", "cto", "Shared infrastructure, data and ML platform."),
    ("finance", "Finance", "cto", "Planning, accounting and procurement."),
    ("people", "People", "cto", "Recruiting, HR operations and learning."),
)

TEAMS = (
    # slug, name, business unit, lead, members, description
    (
        "support-automation",
        "Support Automation",
        "customer-operations",
        "lead",
        ("priya",),
        "Chatbots and agent assist for the support desk.",
    ),
    (
        "contact-center-analytics",
        "Contact Center Analytics",
        "customer-operations",
        "sofia",
        ("mei",),
        "Call analytics, quality scoring and forecasting.",
    ),
    (
        "legal-tech",
        "Legal Tech",
        "legal-compliance",
        "jonas",
        ("dmitri",),
        "Contract review, summarisation and search.",
    ),
    (
        "ml-platform",
        "ML Platform",
        "engineering-platform",
        "omar",
        ("priya",),
        "Model serving, GPUs, feature store and the retrieval layer.",
    ),
    (
        "knowledge-platform",
        "Knowledge Platform",
        "engineering-platform",
        "omar",
        ("mei",),
        "Intranet, documentation and enterprise search.",
    ),
    (
        "fpa-analytics",
        "FP&A Analytics",
        "finance",
        "felix",
        (),
        "Forecasting, spend analytics and invoice processing.",
    ),
    (
        "people-analytics",
        "People Analytics",
        "people",
        "hana",
        (),
        "Recruiting analytics and the HR helpdesk.",
    ),
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


def _organisation(people: dict) -> None:
    units = {}
    for slug, name, head, description in BUSINESS_UNITS:
        units[slug] = BusinessUnit.objects.filter(slug=slug).first() or business_unit_create(
            slug=slug, name=name, description=description, head=people[head]
        )
    for slug, name, unit, lead, members, description in TEAMS:
        team = Team.objects.filter(slug=slug).first()
        if team is None:
            team_create(
                slug=slug,
                name=name,
                business_unit=units[unit],
                lead=people[lead],
                members=[people[m] for m in members],
                description=description,
            )
        else:
            team_set_members(
                team=team, members=[*team.members.all(), people[lead], *(people[m] for m in members)]
            )


def _catalog(people: dict) -> None:
    from inventory.demo import load_catalog

    load_catalog(people)


def _risk(people: dict) -> None:
    from approvals.demo.risk import load_risk_demo

    load_risk_demo(people)


def _gates(people: dict) -> None:
    from approvals.demo.gates import load_gates_demo

    load_gates_demo(people)


def _maturity(people: dict) -> None:
    from approvals.demo.maturity import load_maturity_demo

    load_maturity_demo(people)


def _costs(people: dict) -> None:
    from costs.demo import load_costs

    load_costs(people)


def _allocation(people: dict) -> None:
    from costs.demo import load_allocation_demo

    load_allocation_demo(people)


DemoSection = Callable[[dict], None]
DEMO_SECTIONS: list[tuple[str, DemoSection]] = [
    ("Business units and teams", _organisation),
    ("AI use cases, assets and releases", _catalog),
    ("Risk classifications and registers", _risk),
    # Costs before maturity: the maturity demo then assesses with the cost facts (allocations,
    # budgets) already there, so the commit's recompute finds nothing new to version.
    ("Cloud billing (a FOCUS export, imported)", _costs),
    ("Cost allocation, budgets and value", _allocation),
    ("Maturity assessments", _maturity),
    ("Gate requests in every state", _gates),
]


@transaction.atomic
def load_demo_portfolio(report: Callable[[str], None] = lambda line: None) -> dict:
    """Create (or complete) the demo portfolio; returns the demo people by username."""
    people = _people()
    report(f"People: {len(people)} accounts")
    for title, section in DEMO_SECTIONS:
        section(people)
        report(f"{title}: loaded")
    return people


def persona_accounts() -> list[DemoPerson]:
    return [person for person in PEOPLE if person.persona]
