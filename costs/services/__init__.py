"""Writes with rules, one module per area: imports, sources, allocation, budgets, value."""
