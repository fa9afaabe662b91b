"""Costs' audit checks, one module per check; ``CostsConfig.ready()`` imports this package,
which registers them with ``portal.auditing``."""

from costs.audit_checks import budget_overrun, unallocated_spend  # noqa: F401  (each registers its check)
