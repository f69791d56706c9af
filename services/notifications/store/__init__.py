"""notifications's SQL: one module per table group, typed results."""
