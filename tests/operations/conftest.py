# The catalog's and the gates' fixtures serve the operations tests too.
from tests.approvals.gate_fixtures import ready_use_case, reviewers  # noqa: F401
from tests.inventory.conftest import file_use_case, legal_team, support_team  # noqa: F401
from tests.operations.deploy_fixtures import (  # noqa: F401
    deploy_setup,
    environments,
    fake_target,
    fast_retries,
)
