"""Runs the identity service: `python -m services.identity`."""

from __future__ import annotations

import grpc

from plixa.identity.v1 import (
    account_pb2_grpc,
    api_tokens_pb2_grpc,
    availability_pb2_grpc,
    identity_pb2_grpc,
    internal_pb2_grpc,
    onboarding_pb2_grpc,
    security_pb2_grpc,
    staff_pb2_grpc,
    team_pb2_grpc,
    two_factor_pb2_grpc,
    workspace_pb2_grpc,
)
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
from services.identity.events import billing as billing_events
from services.identity.jobs import identity_jobs
from services.identity.settings import IdentitySettings
from services.kit.crypto import SecretBox
from services.kit.server import ServiceApp, ServiceContext


def password_hasher(settings: IdentitySettings) -> PasswordHasher:
    return PasswordHasher(n=2**settings.scrypt_log_n)


def register(server: grpc.aio.Server, ctx: ServiceContext[IdentitySettings]) -> None:
    settings = ctx.settings
    passwords = password_hasher(settings)
    gate = PasswordGate(ctx.db, passwords)
    box = SecretBox(settings.encryption_key)
    identity_pb2_grpc.add_IdentityServicer_to_server(IdentityApi(ctx.db, passwords), server)
    two_factor_pb2_grpc.add_TwoFactorServicer_to_server(TwoFactorApi(ctx.db, gate, box), server)
    security_pb2_grpc.add_SecurityServicer_to_server(SecurityApi(ctx.db), server)
    api_tokens_pb2_grpc.add_ApiTokensServicer_to_server(ApiTokensApi(ctx.db), server)
    team = TeamApi(ctx.db, passwords, box, settings.panel_url)
    team_pb2_grpc.add_TeamServicer_to_server(team, server)
    storage = LogoStorage(settings.storage_dir)
    workspace_pb2_grpc.add_WorkspaceServicer_to_server(
        WorkspaceApi(ctx.db, storage, settings.public_url), server
    )
    onboarding_pb2_grpc.add_OnboardingChecklistServicer_to_server(
        OnboardingApi(ctx.db, OnboardingClient(onboarding.REMOTE_SERVICES)), server
    )
    account_pb2_grpc.add_AccountServicer_to_server(
        AccountApi(ctx.db, gate, settings.deletion_grace),
        server,
    )
    availability_pb2_grpc.add_AvailabilityServicer_to_server(
        AvailabilityApi(ctx.db, settings.heartbeat_timeout), server
    )
    staff_pb2_grpc.add_StaffAuthServicer_to_server(StaffAuthApi(ctx.db, passwords), server)
    internal_pb2_grpc.add_IdentityInternalServicer_to_server(IdentityInternalApi(ctx.db), server)


app = ServiceApp(
    "identity",
    settings=IdentitySettings,
    register=register,
    subscriptions=lambda ctx: billing_events.SUBSCRIPTIONS,
    jobs=identity_jobs,
)

if __name__ == "__main__":
    app.main()
