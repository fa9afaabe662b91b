from tests.inventory.conftest import file_use_case, legal_team, support_team  # noqa: F401
from tests.operations.deploy_fixtures import (  # noqa: F401
    deploy_setup,
    environments,
    fake_target,
    fast_retries,
)
