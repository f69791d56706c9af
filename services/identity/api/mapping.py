"""Domain objects → protobuf messages."""

from __future__ import annotations

from plixa.identity.v1 import identity_pb2, staff_pb2
from services.identity.domain.models import Session, Staff, StaffSession, Tenant, User


def user_to_proto(user: User) -> identity_pb2.User:
    return identity_pb2.User(
        id=user.id,
        tenant_id=user.tenant_id,
        name=user.name,
        email=user.email,
        role=user.role,
        locale=user.locale,
    )


def tenant_to_proto(tenant: Tenant) -> identity_pb2.Tenant:
    return identity_pb2.Tenant(
        id=tenant.id,
        name=tenant.name,
        slug=tenant.slug,
        country_code=tenant.country_code,
        timezone=tenant.timezone,
        locale=tenant.locale,
        status=tenant.status,
    )


def session_to_proto(session: Session) -> identity_pb2.AuthSession:
    return identity_pb2.AuthSession(
        user=user_to_proto(session.user),
        tenant=tenant_to_proto(session.tenant),
        token=session.token,
        two_factor=session.two_factor,
    )


def me_to_proto(user: User, tenant: Tenant) -> identity_pb2.Me:
    return identity_pb2.Me(user=user_to_proto(user), tenant=tenant_to_proto(tenant))


def staff_to_proto(staff: Staff) -> staff_pb2.Staff:
    return staff_pb2.Staff(id=staff.id, name=staff.name, email=staff.email)


def staff_session_to_proto(session: StaffSession) -> staff_pb2.StaffSession:
    return staff_pb2.StaffSession(staff=staff_to_proto(session.staff), token=session.token)
