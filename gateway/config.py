"""Gateway settings from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.kit.config import (
    SERVICES,
    environment,
    internal_secret,
    nats_password,
    nats_url,
    service_address,
    setting,
    setting_float,
    setting_int,
)


@dataclass(frozen=True)
class Limit:
    requests: int
    window_seconds: int


# Per tenant (or per client address on public routes) and route class.
DEFAULT_LIMITS = {
    "default": Limit(600, 60),
    "auth": Limit(60, 60),
    "ai": Limit(10, 60),
    # Requests refused for a bad bearer token, per client address: beyond it, 429 without
    # asking identity (each unknown token would cost it an RPC and a query).
    "auth_failure": Limit(30, 60),
}


# The panel served locally (`npm run dev` and friends); a deployment names its own origins.
DEVELOPMENT_ORIGINS = "http://127.0.0.1:3000,http://localhost:3000"


def parse_origins(spec: str) -> frozenset[str]:
    """`https://app.example.com,https://admin.example.com`; `*` allows any origin."""
    return frozenset(o.strip().rstrip("/") for o in spec.split(",") if o.strip())


def parse_limits(spec: str) -> dict[str, Limit]:
    """`class=requests/seconds,…` overrides or adds classes, e.g. `default=5/60,auth=3/60`."""
    limits = dict(DEFAULT_LIMITS)
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, rule = item.partition("=")
        requests, _, seconds = rule.partition("/")
        limits[name.strip()] = Limit(int(requests), int(seconds or 60))
    return limits


@dataclass(frozen=True)
class GatewaySettings:
    host: str
    port: int
    timeout_ms: int
    max_body_bytes: int
    max_upload_bytes: int
    token_cache_seconds: float
    refused_token_cache_seconds: float
    limits: dict[str, Limit]
    internal_secret: bytes
    nats_url: str
    nats_password: str = field(repr=False)
    trusted_proxies: str
    cors_origins: frozenset[str]
    idempotency_ttl_seconds: int
    addresses: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> GatewaySettings:
        production = environment() == "production"
        return cls(
            host=setting("PLIXA_GATEWAY_HOST", "127.0.0.1"),
            port=setting_int("PLIXA_GATEWAY_PORT", 8000),
            timeout_ms=setting_int("PLIXA_GATEWAY_TIMEOUT_MS", 10_000),
            max_body_bytes=setting_int("PLIXA_MAX_BODY_BYTES", 1024 * 1024),
            max_upload_bytes=setting_int("PLIXA_MAX_UPLOAD_BYTES", 16 * 1024 * 1024),
            token_cache_seconds=setting_float("PLIXA_TOKEN_CACHE_SECONDS", 30.0),
            # How long a token identity refused is refused without asking it again.
            refused_token_cache_seconds=setting_float("PLIXA_REFUSED_TOKEN_CACHE_SECONDS", 5.0),
            limits=parse_limits(setting("PLIXA_RATE_LIMITS", "")),
            internal_secret=internal_secret(),
            nats_url=nats_url(),
            nats_password=nats_password(),
            # Whose X-Forwarded-For is believed (public routes are limited per client address).
            trusted_proxies=setting("PLIXA_TRUSTED_PROXIES", "127.0.0.1"),
            # Browser origins allowed by CORS: none in production unless named.
            cors_origins=parse_origins(
                setting("PLIXA_CORS_ORIGINS", "" if production else DEVELOPMENT_ORIGINS)
            ),
            # How long an Idempotency-Key's first answer is kept for retries (Stripe: 24 h).
            idempotency_ttl_seconds=setting_int("PLIXA_IDEMPOTENCY_TTL_SECONDS", 24 * 3600),
            addresses={service: service_address(service) for service in SERVICES},
        )
