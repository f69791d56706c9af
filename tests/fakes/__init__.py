"""Local HTTP fakes of third-party providers, speaking their wire format (../shared/spec/providers).
Tests and `make run` use them when the provider's URL is not configured."""
