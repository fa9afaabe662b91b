"""The catalog: business units, teams, use cases, ownership, assets and their versions."""
