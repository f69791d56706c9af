"""billing's consumers of other services' events (durable, idempotent)."""
