"""Settings from the environment, read and validated once at start.

Every variable the code reads goes through `setting()`, a typed reader built on it, or
`secret_setting()`, always with its name spelled out, so deploy/ can be checked against the code
(tests/test_deploy.py scans for the names). A bad value raises
`SettingError` naming the variable; `ServiceApp` and the gateway turn it into a refusal to start.

Each service has one settings class, `services/<name>/settings.py`: a frozen dataclass that
subclasses `ServiceSettings` (the fields every service has) and adds its own typed fields."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("plixa.config")

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

Environment = Literal["development", "production"]
ENVIRONMENTS: tuple[Environment, ...] = ("development", "production")

DEV_INTERNAL_SECRET = "plixa-local-development-only"

_announced_dev_defaults: set[str] = set()


class SettingError(ValueError):
    """A setting is missing or invalid; the message names the variable."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name


T = TypeVar("T")


def load_or_exit(load: Callable[[], T], process: str) -> T:
    """Loads a process's settings at start; a missing or invalid one stops it with exit code 2
    and a message naming the variable (logged, and printed on stderr)."""
    try:
        return load()
    except SettingError as error:
        log.critical("refusing to start: %s", error, extra={"setting": error.name})
        print(f"{process}: refusing to start: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def setting(name: str, default: str) -> str:
    """Read one environment variable (its name starts with PLIXA_), or `default` when unset."""
    return os.environ.get(name, default)


def setting_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer setting within [minimum, maximum]; anything else raises SettingError."""
    raw = setting(name, str(default))
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingError(name, f"must be a whole number, not {raw!r}") from None
    _check_range(name, value, minimum, maximum)
    return value


def setting_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """A number setting within [minimum, maximum]; anything else raises SettingError."""
    raw = setting(name, str(default))
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingError(name, f"must be a number, not {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingError(name, f"must be a finite number, not {raw!r}")
    _check_range(name, value, minimum, maximum)
    return value


def _check_range(name: str, value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise SettingError(name, f"must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise SettingError(name, f"must be at most {maximum}, not {value}")


def setting_url(name: str, default: str) -> str:
    """An absolute http(s) URL, without a trailing slash."""
    value = setting(name, default).strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingError(name, f"must be an absolute http(s) URL, not {value!r}")
    return value


def environment() -> Environment:
    """PLIXA_ENV: `development` (the default) or `production`, where secrets must be real."""
    value = setting("PLIXA_ENV", "development").strip().lower()
    for known in ENVIRONMENTS:
        if value == known:
            return known
    raise SettingError("PLIXA_ENV", f"must be one of {', '.join(ENVIRONMENTS)}, not {value!r}")


def secret_setting(name: str, dev_default: str) -> str:
    """A secret. In production it must be set, non-empty and not the development default.
    In development an unset secret falls back to `dev_default` (logged once); an empty one is
    refused in every mode, since it is a mistake rather than a choice."""
    value = os.environ.get(name)
    production = environment() == "production"
    if value is None:
        if production:
            raise SettingError(name, "is unset; PLIXA_ENV=production needs a real secret")
        if name not in _announced_dev_defaults:
            _announced_dev_defaults.add(name)
            log.warning("%s is unset: using the development default (never in production)", name)
        return dev_default
    if not value.strip():
        raise SettingError(name, "is empty; set a real secret (or unset it in development)")
    if production and value == dev_default:
        raise SettingError(
            name, "is the development default; PLIXA_ENV=production needs a real one"
        )
    return value


def internal_secret() -> bytes:
    """The key that signs principals between the gateway and services."""
    return secret_setting("PLIXA_INTERNAL_SECRET", DEV_INTERNAL_SECRET).encode()


def database_url() -> str:
    """The administrative URL: migrations run through it (and create each service's role)."""
    return setting("PLIXA_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/plixa")


def nats_url() -> str:
    """Where NATS (with JetStream) answers."""
    return setting("PLIXA_NATS_URL", "nats://127.0.0.1:4222")


DEV_NATS_PASSWORD = "plixa-local-nats-only"


def nats_password() -> str:
    """This process's NATS password; its NATS user is its own name (services/kit/nats_auth.py).
    A NATS without authentication (a local one) ignores it."""
    return secret_setting("PLIXA_NATS_PASSWORD", DEV_NATS_PASSWORD)


def service_address(service: str) -> str:
    """Where a service's gRPC server answers, e.g. PLIXA_IDENTITY_ADDR=identity:50051."""
    return setting(f"PLIXA_{service.upper()}_ADDR", f"127.0.0.1:{SERVICE_PORTS[service]}")


def role_name(service: str) -> str:
    return f"plixa_{service}"


def service_database_url(service: str) -> str:
    """The service's own login: a role that can touch only its schema.

    Database passwords are not treated as required secrets, even in production: a login may
    authenticate otherwise (client certificates, peer or IAM auth, a password inside
    PLIXA_<SERVICE>_DATABASE_URL), and PostgreSQL itself refuses a wrong one."""
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


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """The settings every service has. A service's own class subclasses this and overrides
    `load()`:

        @dataclass(frozen=True, kw_only=True)
        class IdentitySettings(ServiceSettings):
            scrypt_log_n: int

            @classmethod
            def load(cls, name: str = "identity") -> Self:
                return cls(**cls.common(name), scrypt_log_n=setting_int("PLIXA_SCRYPT_LOG_N", 17))
    """

    name: str
    environment: Environment
    grpc_host: str
    grpc_port: int
    database_url: str
    nats_url: str
    nats_password: str = field(repr=False)
    internal_secret: bytes = field(repr=False)  # secrets stay out of logs and reprs
    shutdown_grace_seconds: float
    max_message_bytes: int
    db_pool_size: int  # the process's whole PostgreSQL connection budget

    @classmethod
    def common(cls, name: str) -> dict[str, Any]:
        """The shared fields' values, read and validated, for a subclass's `load()`."""
        return {
            "name": name,
            "environment": environment(),
            "grpc_host": setting("PLIXA_GRPC_HOST", "127.0.0.1"),
            "grpc_port": setting_int(
                f"PLIXA_{name.upper()}_PORT", SERVICE_PORTS[name], minimum=1, maximum=65535
            ),
            "database_url": service_database_url(name),
            "nats_url": nats_url(),
            "nats_password": nats_password(),
            "internal_secret": internal_secret(),
            "shutdown_grace_seconds": setting_float(
                "PLIXA_SHUTDOWN_GRACE_SECONDS", 10.0, minimum=0
            ),
            "max_message_bytes": setting_int(
                "PLIXA_GRPC_MAX_MESSAGE_BYTES", 32 * 1024 * 1024, minimum=64 * 1024
            ),
            "db_pool_size": setting_int("PLIXA_DB_POOL_SIZE", 20, minimum=2, maximum=500),
        }

    @classmethod
    def load(cls, name: str) -> Self:
        """Reads and validates the settings once; raises SettingError naming a bad variable."""
        return cls(**cls.common(name))
