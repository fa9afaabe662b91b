"""Importable test helpers (factories, role fixtures, service probes). Needs the `test` extra."""
