"""The money: billing sources and imports, allocation, GPU usage, budgets and value."""
