# The catalog's fixtures (teams and filing use cases) serve the risk classification tests too.
from tests.inventory.conftest import file_use_case, legal_team, support_team  # noqa: F401
