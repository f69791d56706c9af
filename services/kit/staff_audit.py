"""What an impersonation token changes is audited where the change happens.

A staff member acting as a workspace member (an impersonation token) reaches every member route
of every service, so every service records such a call: the interceptor marks a mutating call
(any verb but GET) made with an impersonation token, and the call's first committing unit of
work writes an `ImpersonatedAction` event into its outbox, in the change's own transaction (the
change and its audit record commit together or not at all). The backoffice consumes
`<service>.audit.impersonated_action` from every stream and appends it to its audit log."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from plixa.common.v1.audit_pb2 import ImpersonatedAction
from services.kit.access import MethodAccess, is_impersonation
from services.kit.logs import request_id_var

if TYPE_CHECKING:
    from services.kit.db import Work

SUBJECT = "audit.impersonated_action"  # after the service's name: "inbox.audit.impersonated_action"


def is_mutation(access: MethodAccess) -> bool:
    """A routed call that may change something: every verb but GET."""
    return access.rule is not None and access.verb not in ("", "GET")


@dataclass(slots=True)
class ImpersonatedCall:
    access: MethodAccess
    request: Message
    audited: bool = False


_current: contextvars.ContextVar[ImpersonatedCall | None] = contextvars.ContextVar(
    "impersonated_call", default=None
)


def enter(access: MethodAccess, request: Message) -> contextvars.Token[ImpersonatedCall | None]:
    """Marks the running call as a mutation by an impersonation token (the interceptor)."""
    return _current.set(ImpersonatedCall(access, request))


def leave(token: contextvars.Token[ImpersonatedCall | None]) -> None:
    _current.reset(token)


def record(uow: Work, service: str) -> None:
    """Queues the audit event in `uow` when it is the first unit of work of an impersonated
    mutating call to commit (one record per call, however many units it opens)."""
    call = _current.get()
    if call is None or call.audited or not is_impersonation(uow.principal):
        return
    call.audited = True
    principal = uow.principal
    route = call.access.template
    target_type, target_id = target_of(route, call.request)
    action = ImpersonatedAction(
        staff_id=principal.impersonator_staff_id,
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        action=f"{service}.{call.access.method.rsplit('/', 1)[-1]}",
        route=f"{call.access.verb} {route}",
        target_type=target_type,
        target_id=target_id,
        request_id=request_id_var.get(),
        events=[event.subject for event in uow.events],
    )
    action.at.FromDatetime(uow.clock.now())
    uow.emit(f"{service}.{SUBJECT}", action, tenant_id=principal.tenant_id)


@cache
def _path_parts(route: str) -> tuple[str, str | None]:
    """The resource and id field a route's path names last: ("contact", "id") for
    `/v1/contacts/{id}`, ("contact", None) for `/v1/contacts` (variables are `{name}`
    segments, as the gateway's route table reads them)."""
    segments = route.strip("/").split("/")
    variables = [i for i, s in enumerate(segments) if s.startswith("{")]
    last = variables[-1] if variables else len(segments)
    literals = [s for s in segments[:last] if not s.startswith("{")]
    field = segments[last][1:-1] if variables else None
    return _singular(literals[-1].replace("-", "_") if literals else ""), field


def _singular(noun: str) -> str:
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun[:-1]
    return noun


def target_of(route: str, request: Message) -> tuple[str, int]:
    resource, field = _path_parts(route)
    if field is None:
        return resource, 0
    value: Any = request
    for name in field.split("."):
        value = getattr(value, name, None)
    if isinstance(value, int):
        return resource, value
    if isinstance(value, str) and value.isdigit():
        return resource, int(value)
    return resource, 0
