"""What every app's permission matrix builds on: contexts whose teams are made by the
inventory's factory, and use cases filed for the acting persona's team."""

from inventory.services import usecases as services
from inventory.testing import TeamFactory
from portal.testing import permission_matrix
from portal.testing.permission_matrix import ALLOW, HIDE, expect, unique

# Whoever holds a role sees normal use cases and what hangs off them.
ROLE_HOLDERS_SEE = expect(ALLOW, no_role=HIDE)


def build_context() -> permission_matrix.MatrixContext:
    return permission_matrix.build_context(TeamFactory)


def check_matrix(matrix: permission_matrix.ModelMatrix) -> None:
    permission_matrix.check_matrix(matrix, TeamFactory)


def file_for_own_team(context, *, visibility="normal", submit=False):
    return services.usecase_create(
        actor=context.users["team-lead"], owning_team=context.own_team, accountable_owner=context.users["team-lead"],
        name=unique("Use case"), purpose="Answers questions about orders.", ai_kind="generative",
        data_sensitivity="pii", visibility=visibility, submit=submit,
    )  # fmt: skip
