"""Runs the identity service: `python -m services.identity`."""

from __future__ import annotations

from services.identity.api.account import AccountApi
from services.identity.api.api_tokens import ApiTokensApi
from services.identity.api.availability import AvailabilityApi
from services.identity.api.identity import IdentityApi
from services.identity.api.internal import IdentityInternalApi
from services.identity.api.onboarding import OnboardingApi
from services.identity.api.security import SecurityApi
from services.identity.api.staff import StaffAuthApi
from services.identity.api.team import TeamApi
from services.identity.api.two_factor import TwoFactorApi
from services.identity.api.workspace import WorkspaceApi
from services.identity.clients.onboarding import OnboardingClient
from services.identity.domain import onboarding
from services.identity.domain.logos import LogoStorage
from services.identity.domain.password_gate import PasswordGate
from services.identity.domain.passwords import PasswordHasher
from services.identity.domain.sessions import SessionPolicy
from services.identity.domain.two_factor import FactorKeys
from services.identity.events import billing as billing_events
from services.identity.jobs import identity_jobs
from services.identity.settings import IdentitySettings
from services.kit.server import ServiceApp, ServiceContext


def password_hasher(settings: IdentitySettings) -> PasswordHasher:
    return PasswordHasher(
        n=2**settings.scrypt_log_n,
        concurrency=settings.hash_concurrency,
        max_wait=settings.hash_wait_seconds,
    )


def servicers(ctx: ServiceContext[IdentitySettings]) -> list[object]:
    """Every servicer identity answers; the kit registers each through its generated base."""
    settings = ctx.settings
    passwords = password_hasher(settings)
    gate = PasswordGate(ctx.db, passwords)
    keys = FactorKeys.from_encryption_key(settings.encryption_key)
    box = keys.box
    policy = SessionPolicy(
        idle=settings.session_idle,
        lifetime=settings.session_lifetime,
        staff_lifetime=settings.staff_session_lifetime,
    )
    steps = OnboardingClient(onboarding.REMOTE_SERVICES, settings.internal_secret)
    return [
        IdentityApi(ctx.db, passwords),
        TwoFactorApi(ctx.db, gate, keys),
        SecurityApi(ctx.db),
        ApiTokensApi(ctx.db),
        TeamApi(ctx.db, passwords, box, settings.panel_url),
        WorkspaceApi(ctx.db, LogoStorage(settings.storage_dir), settings.public_url),
        OnboardingApi(ctx.db, steps),
        AccountApi(ctx.db, gate, settings.deletion_grace),
        AvailabilityApi(ctx.db, settings.heartbeat_timeout),
        StaffAuthApi(ctx.db, passwords, keys),
        IdentityInternalApi(ctx.db, policy, box, settings.panel_url),
    ]


app = ServiceApp(
    "identity",
    settings=IdentitySettings,
    servicers=servicers,
    subscriptions=lambda ctx: billing_events.SUBSCRIPTIONS,
    jobs=identity_jobs,
)

if __name__ == "__main__":
    app.main()
