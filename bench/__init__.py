"""Propylon's benchmark harness: the figures DESIGN.md §6 asks for, measured (bench/README.md)."""
