"""The permission matrix: every role x every action x UI and API, asserted in one table.

A model's matrix says how to make a fresh object, which URL performs each action through the
UI and through the API, and what each role should get: ``ALLOW`` (it happens), ``DENY`` (403:
visible but not allowed) or ``HIDE`` (404: invisible). ``check_matrix`` runs every cell and
fails once with the whole table of surprises, so a policy change shows its full effect.

Roles under test are people holding exactly one role, plus the team relation that matters for
team-owned objects: ``team-lead`` and ``team-member`` belong to ``context.own_team``, their
``other-`` twins to ``context.other_team``, and ``no-role`` holds nothing.

This module is plumbing and knows no domain app: the tests pass in how a team is made
(``make_team``), and each app's matrix lives in ``tests/<app>/test_permission_matrix.py``.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model
from django.test import Client
from rest_framework.test import APIClient

from portal.roles import Role
from portal.testing.factories import UserFactory

ALLOW = "allow"
DENY = "deny"
HIDE = "hide"

PERSONAS: dict[str, tuple[str, ...]] = {
    "admin": (Role.ADMIN,),
    "coe-lead": (Role.COE_LEAD,),
    "coe-reviewer": (Role.COE_REVIEWER,),
    "executive": (Role.EXECUTIVE,),
    "auditor": (Role.AUDITOR,),
    "team-lead": (Role.TEAM_LEAD, Role.TEAM_MEMBER),
    "team-member": (Role.TEAM_MEMBER,),
    "other-team-lead": (Role.TEAM_LEAD, Role.TEAM_MEMBER),
    "other-team-member": (Role.TEAM_MEMBER,),
    "no-role": (),
}


@dataclass
class MatrixContext:
    users: dict[str, Any]
    own_team: Model
    other_team: Model
    persona: str = ""  # who is acting in the current cell

    @property
    def actor(self):
        return self.users[self.persona]

    @property
    def actors_team(self) -> Model:
        """The team the acting persona would file for (their own, or the own team otherwise)."""
        return self.other_team if self.persona.startswith("other-") else self.own_team


_contexts = itertools.count(1)
_serial = itertools.count(1)

# Makes a team: ``make_team(name=..., lead=..., members=[...])`` (the inventory's TeamFactory).
MakeTeam = Callable[..., Model]


def unique(prefix: str) -> str:
    """A fresh value for a name or slug, so repeated cells never collide."""
    return f"{prefix}-{next(_serial)}"


def build_context(make_team: MakeTeam) -> MatrixContext:
    users = {
        name: UserFactory(username=f"matrix-{name}", roles=list(roles)) for name, roles in PERSONAS.items()
    }
    number = next(_contexts)
    own = make_team(name=f"Own team {number}", lead=users["team-lead"], members=[users["team-member"]])
    other = make_team(
        name=f"Other team {number}", lead=users["other-team-lead"], members=[users["other-team-member"]]
    )
    return MatrixContext(users=users, own_team=own, other_team=other)


@dataclass(frozen=True)
class Endpoint:
    """How one action is performed through one channel."""

    method: str
    url: Callable[[Model | None], str]
    data: Callable[[MatrixContext, Model | None], dict] | None = None


@dataclass
class ModelMatrix:
    name: str
    model: str  # the label of the policy under test ("inventory.usecase"); make_object makes one
    make_object: Callable[[MatrixContext], Model]
    expected: dict[str, dict[str, str]]
    ui: dict[str, Endpoint] = field(default_factory=dict)
    api: dict[str, Endpoint] = field(default_factory=dict)
    # Lists: the object appears exactly for roles whose "view" is ALLOW.
    ui_list: str | None = None
    api_list: str | None = None
    api_identity: Callable[[Model], Any] = lambda obj: obj.pk
    ui_identity: Callable[[Model], str] = str


def _outcome(status: int, channel: str, method: str, location: str = "") -> str:
    if status == 404:
        return HIDE
    if status == 403:
        return DENY
    if channel == "ui" and method == "post":
        # A form that saved redirects; a 200 means it was shown again with errors.
        if status in (301, 302) and "/login/" not in location:
            return ALLOW
        return f"status {status}"
    if status in (200, 201, 202, 204):
        return ALLOW
    return f"status {status}"


def _perform(client, endpoint: Endpoint, obj: Model | None, context: MatrixContext, channel: str):
    url = endpoint.url(obj)
    data = endpoint.data(context, obj) if endpoint.data else None
    method = getattr(client, endpoint.method)
    if channel == "api":
        return method(url, data, format="json") if data is not None else method(url)
    return method(url, data) if data is not None else method(url)


def _make(matrix: ModelMatrix, context: MatrixContext) -> Model | None:
    obj = matrix.make_object(context)
    if obj is not None:  # a matrix of "add" alone has nothing to make
        label = obj._meta.label_lower
        assert label == matrix.model, f"{matrix.name}: make_object made a {label}, not a {matrix.model}"
    return obj


def covers(*model_labels: str) -> Callable[[Callable], Callable]:
    """Mark a test that checks these models' policies directly through ``restrict()`` (rows
    without endpoints of their own), so the policy coverage test counts them."""

    def mark(test: Callable) -> Callable:
        test.matrix_covers = model_labels
        return test

    return mark


def check_matrix(matrix: ModelMatrix, make_team: MakeTeam) -> None:
    context = build_context(make_team)
    surprises: list[str] = []
    for role, expectations in matrix.expected.items():
        user = context.users[role]
        context.persona = role
        ui_client, api_client = Client(), APIClient()
        ui_client.force_login(user)
        api_client.force_authenticate(user)
        for channel, endpoints, client in (("ui", matrix.ui, ui_client), ("api", matrix.api, api_client)):
            for action, endpoint in endpoints.items():
                want = expectations[action]
                obj = _make(matrix, context) if action != "add" else None
                response = _perform(client, endpoint, obj, context, channel)
                got = _outcome(response.status_code, channel, endpoint.method, response.get("Location", ""))
                if got != want:
                    surprises.append(
                        f"{matrix.name:<18} {role:<18} {channel:<4} {action:<16} wanted {want}, got {got}"
                    )
        surprises.extend(_check_lists(matrix, context, role, ui_client, api_client, expectations))
    assert not surprises, "Permission matrix surprises:\n" + "\n".join(surprises)


def _check_lists(matrix, context, role, ui_client, api_client, expectations) -> list[str]:
    problems = []
    visible = expectations.get("view") == ALLOW
    obj = _make(matrix, context)
    if matrix.api_list:
        response = api_client.get(matrix.api_list, {"page_size": 500})
        if response.status_code == 200:
            ids = [row.get("id") for row in response.json()["results"]] + [
                row.get("slug") or row.get("key") or row.get("username") for row in response.json()["results"]
            ]
            if (matrix.api_identity(obj) in ids) != visible:
                problems.append(f"{matrix.name:<18} {role:<18} api  list             listed={not visible}")
        elif visible or response.status_code != 403:
            problems.append(
                f"{matrix.name:<18} {role:<18} api  list             status {response.status_code}"
            )
    if matrix.ui_list:
        response = ui_client.get(matrix.ui_list)
        if response.status_code == 200:
            if (matrix.ui_identity(obj) in response.content.decode()) != visible:
                problems.append(f"{matrix.name:<18} {role:<18} ui   list             listed={not visible}")
        elif visible or response.status_code != 403:
            problems.append(
                f"{matrix.name:<18} {role:<18} ui   list             status {response.status_code}"
            )
    return problems


def expect(default: str, **overrides: str) -> dict[str, str]:
    """Outcomes for every persona: ``default``, except the personas named (dashes as underscores)."""
    outcomes = dict.fromkeys(PERSONAS, default)
    for persona, outcome in overrides.items():
        outcomes[persona.replace("_", "-")] = outcome
    return outcomes


def table(**actions: dict[str, str]) -> dict[str, dict[str, str]]:
    """Turn per-action outcome rows into per-persona expectations."""
    return {persona: {action: row[persona] for action, row in actions.items()} for persona in PERSONAS}


ADMIN_ONLY = expect(DENY, admin=ALLOW)
EVERYONE = expect(ALLOW)
