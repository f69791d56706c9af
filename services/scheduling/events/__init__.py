"""scheduling's consumers of other services' events (durable, idempotent)."""
