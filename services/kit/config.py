"""Settings from the environment. Every variable the code reads goes through `setting()`,
so deploy/ can be checked against the code (tests/test_deploy.py scans for it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

# The gRPC port of every service; the gateway and deploy/ use the same table.
SERVICE_PORTS: dict[str, int] = {
    "identity": 50051,
    "inbox": 50052,
    "ai": 50053,
    "scheduling": 50054,
    "billing": 50055,
    "backoffice": 50056,
    "notifications": 50057,
}
SERVICES = tuple(SERVICE_PORTS)

DEV_INTERNAL_SECRET = "plixa-local-development-only"


def setting(name: str, default: str) -> str:
    """Read one environment variable; its name must start with PLIXA_."""
    return os.environ.get(name, default)


def setting_int(name: str, default: int) -> int:
    return int(setting(name, str(default)))


def setting_float(name: str, default: float) -> float:
    return float(setting(name, str(default)))


def internal_secret() -> bytes:
    """The key that signs principals between the gateway and services."""
    return setting("PLIXA_INTERNAL_SECRET", DEV_INTERNAL_SECRET).encode()


def database_url() -> str:
    """The administrative URL: migrations run through it (and create each service's role)."""
    return setting("PLIXA_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/plixa")


def nats_url() -> str:
    return setting("PLIXA_NATS_URL", "nats://127.0.0.1:4222")


def service_address(service: str) -> str:
    """Where a service's gRPC server answers, e.g. PLIXA_IDENTITY_ADDR=identity:50051."""
    return setting(f"PLIXA_{service.upper()}_ADDR", f"127.0.0.1:{SERVICE_PORTS[service]}")


def role_name(service: str) -> str:
    return f"plixa_{service}"


def service_database_url(service: str) -> str:
    """The service's own login: a role that can touch only its schema."""
    explicit = setting(f"PLIXA_{service.upper()}_DATABASE_URL", "")
    if explicit:
        return explicit
    parts = urlsplit(database_url())
    password = setting(f"PLIXA_{service.upper()}_DB_PASSWORD", "")
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    auth = role_name(service) + (f":{password}" if password else "")
    return urlunsplit((parts.scheme, f"{auth}@{host}{port}", parts.path, parts.query, ""))


def asyncpg_url(url: str) -> str:
    """SQLAlchemy's spelling of a PostgreSQL URL for the asyncpg driver."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") else url


@dataclass(frozen=True)
class ServiceSettings:
    name: str
    grpc_host: str
    grpc_port: int
    database_url: str
    nats_url: str
    shutdown_grace_seconds: float
    max_message_bytes: int

    @classmethod
    def load(cls, name: str) -> ServiceSettings:
        return cls(
            name=name,
            grpc_host=setting("PLIXA_GRPC_HOST", "127.0.0.1"),
            grpc_port=setting_int(f"PLIXA_{name.upper()}_PORT", SERVICE_PORTS[name]),
            database_url=service_database_url(name),
            nats_url=nats_url(),
            shutdown_grace_seconds=setting_float("PLIXA_SHUTDOWN_GRACE_SECONDS", 10.0),
            max_message_bytes=setting_int("PLIXA_GRPC_MAX_MESSAGE_BYTES", 32 * 1024 * 1024),
        )
