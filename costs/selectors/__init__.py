"""Reads, one module per area: imports, reports, reconciliation, budgets, value."""
