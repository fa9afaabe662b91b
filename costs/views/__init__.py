"""Pages of costs, one module per area."""
