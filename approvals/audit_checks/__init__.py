"""Approvals' audit checks, one module per check (DESIGN.md §3 "Audits and findings").

Importing this package registers them with ``portal.auditing``; ``ApprovalsConfig.ready()`` does.
Each check reads in a fixed number of queries, whatever the size of the portfolio.
"""

from approvals.audit_checks import (  # noqa: F401  (each module registers its check)
    approval_expired,
    approval_expiring,
    duplicate_efforts,
    high_risk_without_oversight,
    orphaned_owner,
    pilot_stalled,
    stale_maturity,
)
