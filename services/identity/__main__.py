"""Runs the identity service: `python -m services.identity`."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

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
from services.identity.api.account import AccountApi, carry_out_deletions_forever
from services.identity.api.api_tokens import ApiTokensApi
from services.identity.api.availability import AvailabilityApi, sweep_silent_members_forever
from services.identity.api.identity import IdentityApi
from services.identity.api.internal import IdentityInternalApi
from services.identity.api.onboarding import OnboardingApi
from services.identity.api.security import SecurityApi
from services.identity.api.staff import StaffAuthApi
from services.identity.api.support import PasswordGate
from services.identity.api.team import TeamApi
from services.identity.api.two_factor import TwoFactorApi
from services.identity.api.workspace import WorkspaceApi
from services.identity.clients.onboarding import OnboardingClient
from services.identity.domain import onboarding
from services.identity.domain.logos import LogoStorage
from services.identity.domain.passwords import PasswordHasher
from services.identity.events import billing as billing_events
from services.kit.config import setting, setting_float, setting_int
from services.kit.crypto import SecretBox
from services.kit.server import ServiceApp, ServiceContext


def password_hasher() -> PasswordHasher:
    # OWASP's N=2^17 in production; tests may lower it to keep the suite fast.
    return PasswordHasher(n=2 ** setting_int("PLIXA_SCRYPT_LOG_N", 17))


def register(server: grpc.aio.Server, ctx: ServiceContext) -> None:
    passwords = password_hasher()
    gate = PasswordGate(ctx.db, passwords)
    box = SecretBox()
    identity_pb2_grpc.add_IdentityServicer_to_server(IdentityApi(ctx.db, passwords), server)
    two_factor_pb2_grpc.add_TwoFactorServicer_to_server(TwoFactorApi(ctx.db, gate, box), server)
    security_pb2_grpc.add_SecurityServicer_to_server(SecurityApi(ctx.db), server)
    api_tokens_pb2_grpc.add_ApiTokensServicer_to_server(ApiTokensApi(ctx.db), server)
    team = TeamApi(ctx.db, passwords, box, setting("PLIXA_PANEL_URL", "http://127.0.0.1:3000"))
    team_pb2_grpc.add_TeamServicer_to_server(team, server)
    storage = LogoStorage(Path(setting("PLIXA_STORAGE_DIR", "var/storage")))
    public_url = setting("PLIXA_PUBLIC_URL", "http://127.0.0.1:8000")
    workspace_pb2_grpc.add_WorkspaceServicer_to_server(
        WorkspaceApi(ctx.db, storage, public_url), server
    )
    onboarding_pb2_grpc.add_OnboardingChecklistServicer_to_server(
        OnboardingApi(ctx.db, OnboardingClient(onboarding.REMOTE_SERVICES)), server
    )
    account_pb2_grpc.add_AccountServicer_to_server(
        AccountApi(ctx.db, gate, timedelta(days=setting_int("PLIXA_DELETION_GRACE_DAYS", 14))),
        server,
    )
    availability_pb2_grpc.add_AvailabilityServicer_to_server(
        AvailabilityApi(ctx.db, heartbeat_timeout()), server
    )
    staff_pb2_grpc.add_StaffAuthServicer_to_server(StaffAuthApi(ctx.db, passwords), server)
    internal_pb2_grpc.add_IdentityInternalServicer_to_server(IdentityInternalApi(ctx.db), server)


def heartbeat_timeout() -> timedelta:
    return timedelta(seconds=setting_int("PLIXA_HEARTBEAT_TIMEOUT_SECONDS", 90))


def jobs(ctx: ServiceContext) -> list[Coroutine[Any, Any, None]]:
    every = setting_float("PLIXA_IDENTITY_SWEEP_SECONDS", 15.0)
    return [
        sweep_silent_members_forever(ctx.db, heartbeat_timeout(), every),
        carry_out_deletions_forever(ctx.db, every),
    ]


app = ServiceApp(
    "identity",
    register=register,
    subscriptions=lambda ctx: billing_events.SUBSCRIPTIONS,
    jobs=jobs,
)

if __name__ == "__main__":
    app.main()
