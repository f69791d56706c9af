"""Which committed events become the gateway's cache-invalidation trailers."""

from __future__ import annotations

from plixa.identity.v1 import events_pb2
from services.kit.db import PendingEvent
from services.kit.invalidation import invalidation_trailers


def test_token_and_access_events_map_to_their_trailers() -> None:
    events = [
        PendingEvent("identity.token.revoked", events_pb2.TokenRevoked(token_id=9), 1),
        PendingEvent(
            "identity.access.changed", events_pb2.AccessChanged(tenant_id=1, user_id=4), 1
        ),
        PendingEvent("identity.access.changed", events_pb2.AccessChanged(tenant_id=1), 1),
        PendingEvent("identity.access.changed", events_pb2.AccessChanged(tenant_id=1), 1),
        PendingEvent("identity.two_factor.changed", events_pb2.TwoFactorChanged(user_id=4), 1),
    ]
    assert invalidation_trailers(events) == (
        ("plixa-invalidate-token", "9"),
        ("plixa-invalidate-user", "4"),
        ("plixa-invalidate-tenant", "1"),
    )


def test_other_events_invalidate_nothing() -> None:
    events = [PendingEvent("identity.user.registered", events_pb2.UserRegistered(user_id=1), 1)]
    assert invalidation_trailers(events) == ()
