"""Forms of costs pages, one module per area."""
