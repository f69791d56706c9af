"""Identity's events: owners (told when an endpoint is disabled), the agents' restriction (the
live stream), invitations and deletion notices (emails)."""

from __future__ import annotations

from functools import cache

from nats.aio.msg import Msg

from plixa.identity.v1 import events_pb2
from services.kit.client import ServiceClient
from services.kit.config import internal_secret
from services.kit.consumer import Subscription
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError
from services.notifications.clients.identity import IdentityClient
from services.notifications.domain import emails
from services.notifications.store import digest as digest_store
from services.notifications.store import live as live_store
from services.notifications.store import push as push_store
from services.notifications.store import webhooks as webhook_store


@cache
def identity() -> IdentityClient:
    return IdentityClient(ServiceClient(internal_secret()))


async def owners(uow: UnitOfWork, msg: Msg) -> None:
    if msg.subject == "identity.user.registered":
        registered = events_pb2.UserRegistered.FromString(msg.data)
        await webhook_store.remember_owner(
            uow.conn, registered.tenant_id, registered.user_id, registered.email
        )
        await digest_store.set_profile(uow.conn, registered.tenant_id, name=registered.tenant_name)
        await push_store.set_member(
            uow.conn, registered.tenant_id, registered.user_id, role="owner"
        )
    elif msg.subject == "identity.member.joined":
        joined = events_pb2.MemberJoined.FromString(msg.data)
        await push_store.set_member(uow.conn, joined.tenant_id, joined.user_id, role=joined.role)
        if joined.role == "owner":
            await webhook_store.remember_owner(
                uow.conn, joined.tenant_id, joined.user_id, joined.email
            )
    elif msg.subject in ("identity.member.removed", "identity.user.erased"):
        removed = events_pb2.MemberRemoved.FromString(msg.data)
        await webhook_store.forget_owner(uow.conn, removed.tenant_id, removed.user_id)
        await push_store.remove_member(uow.conn, removed.tenant_id, removed.user_id)
    elif msg.subject == "identity.availability.changed":
        presence = events_pb2.AvailabilityChanged.FromString(msg.data)
        await push_store.set_member(
            uow.conn, presence.tenant_id, presence.user_id, status=presence.status
        )
    elif msg.subject == "identity.workspace.changed":
        workspace = events_pb2.WorkspaceChanged.FromString(msg.data)
        await digest_store.set_profile(uow.conn, workspace.tenant_id, timezone=workspace.timezone)
    elif msg.subject == "identity.security_config.changed":
        config = events_pb2.SecurityConfigChanged.FromString(msg.data)
        await live_store.set_restricted(
            uow.conn, config.tenant_id, config.agent_restricted_to_own_conversations
        )


async def invitation(uow: UnitOfWork, msg: Msg) -> None:
    sent = events_pb2.InvitationSent.FromString(msg.data)
    try:
        link = await identity().invitation_link(sent.tenant_id, sent.invitation_id)
    except DomainError as error:
        if error.code == "NOT_FOUND":
            return  # cancelled, accepted or expired meanwhile: nothing to send
        raise
    event_id = (msg.headers or {}).get("Nats-Msg-Id", "")
    await emails.enqueue(
        uow.conn,
        template="invitation",
        to=link.email,
        data={
            "url": link.url,
            "workspace": link.tenant_name,
            "role": link.role or sent.role,
            "expires_at": link.expires_at.ToDatetime().strftime("%Y-%m-%d"),
        },
        idempotency_key=f"invitation:{sent.invitation_id}:{event_id}",
        tenant_id=sent.tenant_id,
        now=uow.clock.now(),
    )


async def deletion(uow: UnitOfWork, msg: Msg) -> None:
    changed = events_pb2.AccountDeletionChanged.FromString(msg.data)
    user = await identity().user(changed.tenant_id, changed.user_id)
    if user is None:
        return
    event_id = (msg.headers or {}).get("Nats-Msg-Id", "")
    await emails.enqueue(
        uow.conn,
        template="deletion_notice",
        to=user.email,
        data={"scope": changed.scope, "scheduled": "true" if changed.scheduled else "false"},
        idempotency_key=f"deletion:{event_id}",
        tenant_id=changed.tenant_id,
        now=uow.clock.now(),
    )


SUBSCRIPTIONS = [
    Subscription("notifications-identity-owners", "identity.>", owners),
    Subscription("notifications-invitations", "identity.invitation.sent", invitation),
    Subscription("notifications-deletions", "identity.account.*", deletion),
]
