"""The team: invitations, joining, members. Seats come from the plan: members plus pending
invitations may not exceed them.

Owners: the founding owner (who registered the workspace) governs the others. Only the founder can
make an owner (invite, or resend an invitation, with the owner role) or remove an owner; nobody can
remove the founder. Co-owners run the workspace otherwise (agents, settings, invitations of
agents). No route changes a member's role, so none can demote the founder either."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from plixa.identity.v1 import events_pb2
from services.identity.domain import accounts, entitlements
from services.identity.domain.credentials import check_password
from services.identity.domain.models import InvitationRecord, Session, User
from services.identity.store import accounts as account_store
from services.identity.store import invitations as store
from services.identity.store.invitations import InvitationChanges
from services.kit.crypto import SecretBox
from services.kit.db import UnitOfWork
from services.kit.errors import DomainError, conflict, forbidden, invalid, not_found
from services.kit.paging import Page, PageQuery
from services.kit.validation import Checker

INVITATION_LIFETIME = timedelta(days=7)
ROLES = ("agent", "owner")


@dataclass(frozen=True)
class Invitation:
    id: int
    email: str
    role: str
    status: str
    expires_at: datetime
    accepted_at: datetime | None
    created_at: datetime
    token: str | None = None
    accept_url: str | None = None


def _status(row: InvitationRecord, now: datetime) -> str:
    if row.accepted_at is not None:
        return "accepted"
    if row.cancelled_at is not None:
        return "cancelled"
    if row.expires_at <= now:
        return "expired"
    return "pending"


def _invitation(
    row: InvitationRecord, now: datetime, link: tuple[str, str] | None = None
) -> Invitation:
    return Invitation(
        id=row.id,
        email=row.email,
        role=row.role,
        status=_status(row, now),
        expires_at=row.expires_at,
        accepted_at=row.accepted_at,
        created_at=row.created_at,
        token=link[0] if link else None,
        accept_url=link[1] if link else None,
    )


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def accept_url(panel_url: str, token: str) -> str:
    return f"{panel_url.rstrip('/')}/invitations/accept?token={quote(token)}"


def founder_required(message: str) -> DomainError:
    return forbidden("FOUNDER_REQUIRED", message)


async def _caller_is_founder(uow: UnitOfWork) -> bool:
    caller = await account_store.get_user(uow, uow.scope.tenant_id, uow.principal.user_id)
    return caller is not None and caller.is_founder


async def _ensure_founder_for_owner_invitation(uow: UnitOfWork, role: str) -> None:
    if role == "owner" and not await _caller_is_founder(uow):
        raise founder_required("Only the workspace's founding owner can invite owners.")


async def list_invitations(uow: UnitOfWork, page: PageQuery) -> Page[Invitation]:
    now = uow.clock.now()
    return (await store.list_page(uow, page)).map(lambda row: _invitation(row, now))


async def _ensure_seat(uow: UnitOfWork, tenant_id: int, extra_pending: int) -> None:
    seats = (await entitlements.for_tenant(uow, tenant_id)).limit("seats")
    members = await account_store.count_members(uow, tenant_id)
    pending = await store.count_pending(uow, tenant_id, uow.clock.now())
    if members + pending + extra_pending > seats:
        raise entitlements.seat_limit_reached(seats)


async def invite(
    uow: UnitOfWork, *, email: str, role: str | None, box: SecretBox, panel_url: str
) -> Invitation:
    check = Checker()
    email = check.email("email", email)
    role = role or "agent"
    if role not in ROLES:
        check.fail("role", "The role must be agent or owner.", "in")
    check.done()
    await _ensure_founder_for_owner_invitation(uow, role)
    if await account_store.email_taken(uow, email):
        raise invalid("email", "This email already belongs to a Plixa account.", "taken")
    now = uow.clock.now()
    if await store.pending_for_email(uow, email, now):
        raise invalid("email", "This email already has a pending invitation.", "invited")
    await _ensure_seat(uow, uow.scope.tenant_id, extra_pending=1)
    token = secrets.token_urlsafe(32)
    row = await store.add(
        uow,
        email=email,
        role=role,
        token_hash=digest(token),
        token_sealed=box.seal(token),
        invited_by=uow.principal.user_id,
        expires_at=now + INVITATION_LIFETIME,
        created_at=now,
    )
    _emit_sent(uow, row, resent=False)
    return _invitation(row, now, (token, accept_url(panel_url, token)))


def _emit_sent(uow: UnitOfWork, row: InvitationRecord, *, resent: bool) -> None:
    uow.emit(
        "identity.invitation.sent",
        events_pb2.InvitationSent(
            invitation_id=row.id,
            tenant_id=row.tenant_id,
            email=row.email,
            role=row.role,
            resent=resent,
        ),
    )


async def resend(
    uow: UnitOfWork, invitation_id: int, *, box: SecretBox, panel_url: str
) -> Invitation:
    """The same link and the same expiry, sent again."""
    row = await store.get(uow, invitation_id)
    if row is None:
        raise not_found("Invitation")
    now = uow.clock.now()
    state = _status(row, now)
    if state != "pending":
        raise conflict(f"INVITATION_{state.upper()}", f"This invitation is {state}.")
    await _ensure_founder_for_owner_invitation(uow, row.role)  # its link makes an owner
    token = box.open(row.token_sealed)
    _emit_sent(uow, row, resent=True)
    return _invitation(row, now, (token, accept_url(panel_url, token)))


async def cancel(uow: UnitOfWork, invitation_id: int) -> None:
    row = await store.get(uow, invitation_id)
    if row is None:
        raise not_found("Invitation")
    if row.accepted_at is not None:
        raise conflict(
            "INVITATION_ACCEPTED",
            "An accepted invitation cannot be cancelled; remove the member instead.",
        )
    if row.cancelled_at is None:
        await store.update(
            uow, row.tenant_id, row.id, InvitationChanges(cancelled_at=uow.clock.now())
        )


def check_acceptance(
    *, token: str, name: str, password: str, confirmation: str | None, locale: str | None
) -> tuple[str, str | None]:
    check = Checker()
    clean_name = check.text("name", name)
    check.text("token", token)
    check_password(check, "password", password)
    if confirmation is not None and confirmation != password:
        check.fail("password", "The password confirmation does not match.", "confirmed")
    clean_locale = check.locale("locale", locale) if locale is not None else None
    check.done()
    return clean_name, clean_locale


async def accept(
    uow: UnitOfWork, *, token: str, name: str, locale: str | None, password_hash: str
) -> Session:
    row = await store.find_by_token_hash(uow, digest(token))
    now = uow.clock.now()
    if row is None:
        raise invalid("token", "This invitation link is not valid.")
    state = _status(row, now)
    if state != "pending":
        raise DomainError(
            f"INVITATION_{state.upper()}",
            f"This invitation is {state}.",
            410 if state == "expired" else 409,
        )
    tenant = await account_store.get_tenant(uow, row.tenant_id)
    if tenant is None:
        raise invalid("token", "This invitation link is not valid.")
    seats = (await entitlements.for_tenant(uow, tenant.id)).limit("seats")
    if await account_store.count_members(uow, tenant.id) + 1 > seats:
        raise entitlements.seat_limit_reached(seats)
    try:
        user = await account_store.add_user(
            uow,
            tenant.id,
            created_at=now,
            name=name,
            email=row.email,
            password_hash=password_hash,
            role=row.role,
            locale=locale or tenant.locale,
        )
    except account_store.EmailTaken:
        raise invalid("token", "This email already belongs to a Plixa account.", "taken") from None
    accepted = InvitationChanges(accepted_at=now, accepted_user_id=user.id)
    await store.update(uow, tenant.id, row.id, accepted)
    uow.emit(
        "identity.member.joined",
        events_pb2.MemberJoined(
            user_id=user.id, tenant_id=tenant.id, role=user.role, email=user.email
        ),
        tenant_id=tenant.id,
    )
    return Session(user, tenant, await accounts.issue_panel_token(uow, user))


async def members(uow: UnitOfWork, page: PageQuery) -> Page[User]:
    return await account_store.list_members(uow, page)


async def remove_member(uow: UnitOfWork, user_id: int) -> None:
    if user_id == uow.principal.user_id:
        raise conflict("CANNOT_REMOVE_YOURSELF", "Owners cannot remove themselves.")
    user = await account_store.get_user(uow, uow.scope.tenant_id, user_id)
    if user is None:
        raise not_found("Member")
    if user.is_founder:
        raise founder_required("The workspace's founding owner cannot be removed.")
    if user.role == "owner" and not await _caller_is_founder(uow):
        raise founder_required("Only the workspace's founding owner can remove an owner.")
    await account_store.delete_user(uow, user.id)
    uow.emit(
        "identity.member.removed",
        events_pb2.MemberRemoved(user_id=user.id, tenant_id=user.tenant_id),
    )
    uow.emit(
        "identity.access.changed",
        events_pb2.AccessChanged(tenant_id=user.tenant_id, user_id=user.id),
    )


@dataclass(frozen=True)
class InvitationLink:
    url: str
    email: str
    expires_at: datetime
    role: str
    tenant_name: str


async def invitation_link(
    uow: UnitOfWork, tenant_id: int, invitation_id: int, *, box: SecretBox, panel_url: str
) -> InvitationLink:
    """The link of a pending invitation of `tenant_id`, for the email that carries it
    (notifications asks; the event does not carry the link). Anything but pending: NOT_FOUND."""
    row = await store.get_of(uow, tenant_id, invitation_id)
    if row is None or _status(row, uow.clock.now()) != "pending":
        raise not_found("Invitation")
    tenant = await account_store.get_tenant(uow, tenant_id)
    token = box.open(row.token_sealed)
    return InvitationLink(
        url=accept_url(panel_url, token),
        email=row.email,
        expires_at=row.expires_at,
        role=row.role,
        tenant_name=tenant.name if tenant else "",
    )
