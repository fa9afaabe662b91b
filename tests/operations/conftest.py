# The catalog's and the gates' fixtures serve the operations tests too.
from tests.approvals.gate_fixtures import ready_use_case, reviewers  # noqa: F401
from tests.inventory.conftest import file_use_case, legal_team, support_team  # noqa: F401
