"""Unit tests of billing's domain and store; end-to-end tests live in tests/ at the top."""
