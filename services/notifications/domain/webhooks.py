"""Webhook endpoints: create, read, update, delete, rotate, test; deliveries' log and retry."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.kit.crypto import SecretBox
from services.kit.db import UnitOfWork
from services.kit.errors import conflict, invalid, not_found
from services.kit.paging import Page, PageQuery
from services.kit.rows import UNSET, Unset
from services.notifications.domain import signing
from services.notifications.domain.outbound import Blocked, Sender
from services.notifications.domain.payloads import event_body
from services.notifications.store import webhooks as store
from services.notifications.store.webhooks import DeliveryRow, EndpointChanges, EndpointRow

EVENT_TYPES: dict[str, str] = {
    "message.inbound": "A customer's WhatsApp message arrived",
    "message.outbound": "A message to a customer was stored (member, AI, flow or phone)",
    "conversation.created": "A conversation started",
    "conversation.updated": "A conversation changed (status, assignee, labels...)",
    "conversation.deleted": "A conversation was deleted",
    "appointment.created": "An appointment was booked",
    "appointment.updated": "An appointment changed",
    "appointment.cancelled": "An appointment was cancelled",
}
MAX_URL = 2048


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    description: str | None
    events: list[str]
    status: str
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    secret: str | None = None


@dataclass(frozen=True)
class Delivery:
    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: str | None = None
    attempt_log: list[store.AttemptRow] = field(default_factory=list)


@dataclass(frozen=True)
class TestResult:
    ok: bool
    status_code: int | None
    latency_ms: int
    error: str | None
    webhook_id: str


def endpoint_view(row: EndpointRow, now: datetime, secret: str | None = None) -> Endpoint:
    expires = row.previous_secret_expires_at
    return Endpoint(
        id=row.id,
        url=row.url,
        description=row.description,
        events=list(row.events),
        status=row.status,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
        failing_since=row.failing_since,
        previous_secret_expires_at=expires if expires and expires > now else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        secret=secret,
    )


def delivery_view(row: DeliveryRow, attempts: list[store.AttemptRow] | None = None) -> Delivery:
    return Delivery(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        payload=row.payload if attempts is not None else None,
        attempt_log=list(attempts or []),
    )


def signing_secrets(
    open_secret: Callable[[str], str],
    current: str,
    previous: str | None,
    expires: datetime | None,
    now: datetime,
) -> list[str]:
    """The current secret, plus the previous one while its overlap lasts (`open_secret`
    unseals: `SecretBox.open`)."""
    found = [open_secret(current)]
    if previous and expires and expires > now:
        found.append(open_secret(previous))
    return found


def _clean_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise invalid("events", f"Unknown event type: {unknown[0]}.", "one_of")
    if not events:
        raise invalid("events", "Subscribe to at least one event.", "required")
    return sorted(set(events), key=list(EVENT_TYPES).index)


async def _checked_url(sender: Sender, url: str) -> str:
    url = url.strip()
    if not url:
        raise invalid("url", "The url field is required.", "required")
    if len(url) > MAX_URL:
        raise invalid("url", f"The url may not be longer than {MAX_URL} characters.", "max_len")
    try:
        await sender.check(url)
    except Blocked as blocked:
        raise invalid("url", str(blocked), "url_not_allowed") from None
    return url


def _description(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


async def create(
    uow: UnitOfWork,
    *,
    url: str,
    events: list[str],
    description: str | None,
    box: SecretBox,
    sender: Sender,
) -> Endpoint:
    events = _clean_events(events)
    url = await _checked_url(sender, url)
    secret = signing.new_secret()
    now = uow.clock.now()
    row = await store.add_endpoint(
        uow,
        url=url,
        description=_description(description),
        events=events,
        secret_sealed=box.seal(secret),
        status="active",
        created_at=now,
        updated_at=now,
    )
    return endpoint_view(row, now, secret)


async def _owned(uow: UnitOfWork, endpoint_id: int, *, lock: bool = False) -> EndpointRow:
    row = await store.get_endpoint(uow, endpoint_id, lock=lock)
    if row is None:
        raise not_found("Webhook endpoint")
    return row


async def get(uow: UnitOfWork, endpoint_id: int) -> Endpoint:
    return endpoint_view(await _owned(uow, endpoint_id), uow.clock.now())


async def list_page(uow: UnitOfWork, page: PageQuery) -> Page[Endpoint]:
    now = uow.clock.now()
    return (await store.list_endpoints(uow, page)).map(lambda r: endpoint_view(r, now))


@dataclass(frozen=True)
class EndpointUpdate:
    url: str | Unset | None = UNSET
    events: list[str] | Unset | None = UNSET
    description: str | Unset | None = UNSET
    enabled: bool | Unset | None = UNSET


async def update(
    uow: UnitOfWork, endpoint_id: int, asked: EndpointUpdate, sender: Sender
) -> Endpoint:
    row = await _owned(uow, endpoint_id, lock=True)
    now = uow.clock.now()
    values: dict[str, Any] = {"updated_at": now}
    for name in ("url", "events", "enabled"):
        if getattr(asked, name) is None:
            raise invalid(name, f"The {name} field may not be null.", "required")
    if isinstance(asked.url, str):
        values["url"] = await _checked_url(sender, asked.url)
    if isinstance(asked.events, list):
        values["events"] = _clean_events(list(asked.events))
    if not isinstance(asked.description, Unset):
        values["description"] = _description(asked.description)
    if isinstance(asked.enabled, bool):
        if asked.enabled and row.status != "active":
            values.update(
                status="active", disabled_reason=None, disabled_at=None, failing_since=None
            )
        elif not asked.enabled and row.status == "active":
            values.update(status="disabled", disabled_reason="owner", disabled_at=now)
            await store.fail_pending(uow.conn, row.id, "endpoint disabled")
    updated = await store.update_endpoint(uow, row.id, EndpointChanges(**values))
    return endpoint_view(updated, now)


async def delete(uow: UnitOfWork, endpoint_id: int) -> None:
    if not await store.delete_endpoint(uow, endpoint_id):
        raise not_found("Webhook endpoint")


async def rotate(uow: UnitOfWork, endpoint_id: int, box: SecretBox, overlap: timedelta) -> Endpoint:
    """A new secret; the current one keeps signing, beside it, until the overlap ends."""
    row = await _owned(uow, endpoint_id, lock=True)
    now = uow.clock.now()
    secret = signing.new_secret()
    updated = await store.update_endpoint(
        uow,
        row.id,
        EndpointChanges(
            secret_sealed=box.seal(secret),
            previous_secret_sealed=row.secret_sealed,
            previous_secret_expires_at=now + overlap,
            updated_at=now,
        ),
    )
    return endpoint_view(updated, now, secret)


async def load_for_test(uow: UnitOfWork, endpoint_id: int) -> EndpointRow:
    return await _owned(uow, endpoint_id)


async def send_test(row: EndpointRow, box: SecretBox, sender: Sender, now: datetime) -> TestResult:
    """A signed ping, sent now (not logged as a delivery)."""
    webhook_id = "evt_test_" + uuid.uuid4().hex
    body = event_body(webhook_id, "ping", now, row.tenant_id, {"endpoint_id": row.id}).encode()
    keys = signing_secrets(
        box.open, row.secret_sealed, row.previous_secret_sealed, row.previous_secret_expires_at, now
    )
    outcome = await sender.post(
        row.url, body, signing.headers(keys, webhook_id, int(time.time()), body)
    )
    return TestResult(
        outcome.ok, outcome.status_code, outcome.latency_ms, outcome.error, webhook_id
    )


async def deliveries_page(
    uow: UnitOfWork, endpoint_id: int, status: str | None, page: PageQuery
) -> Page[Delivery]:
    await _owned(uow, endpoint_id)
    return (await store.list_deliveries(uow, endpoint_id, status, page)).map(delivery_view)


async def delivery(uow: UnitOfWork, delivery_id: int) -> Delivery:
    row = await store.get_delivery(uow, delivery_id)
    if row is None:
        raise not_found("Webhook delivery")
    return delivery_view(row, await store.attempts_of(uow, row.id))


async def retry(uow: UnitOfWork, delivery_id: int) -> Delivery:
    """Only a delivery in its terminal failed state: attempts from zero, same payload and id."""
    row = await store.get_delivery(uow, delivery_id, lock=True)
    if row is None:
        raise not_found("Webhook delivery")
    if row.status != "failed":
        raise conflict(
            "DELIVERY_NOT_FAILED",
            f"This delivery is {row.status}; only a failed one can be retried.",
        )
    endpoint = await _owned(uow, row.endpoint_id)
    if endpoint.status != "active":
        raise conflict("ENDPOINT_DISABLED", "Enable the endpoint first.")
    reset = await store.reset_delivery(uow, row.id, uow.clock.now())
    return delivery_view(reset, await store.attempts_of(uow, row.id))
