# The catalog's fixtures (teams and filing use cases) serve the risk classification tests too;
# the gate tests add a use case ready for its gate and people in every approver role; the audit
# tests replace the check registry with checks they control.
from tests.approvals.audit_fixtures import audit_checks  # noqa: F401
from tests.approvals.gate_fixtures import ready_use_case, reviewers  # noqa: F401
from tests.inventory.conftest import file_use_case, legal_team, support_team  # noqa: F401
