"""The AI's booking tools over internal gRPC, the waitlist (members view and clear it) and the
offer a cancellation queues for the first matching entry (its sending through inbox:
tests/test_scheduling_reminders.py; the jobs alone: services/scheduling/tests/test_messaging.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from plixa.scheduling.v1 import internal_pb2, scheduling_pb2
from services.kit.client import ServiceClient
from services.kit.config import internal_secret
from services.kit.errors import DomainError
from services.kit.principal import service_principal
from tests.conftest import bearer, errors_of, sql
from tests.scheduling_support import (
    SchedulingWorld,
    create_service,
    new_contact,
    owner_with_provider,
    world,
)

INTERNAL = "/plixa.scheduling.v1.SchedulingInternal/"


@pytest.fixture(scope="module")
def sw() -> SchedulingWorld:
    return world()


@pytest.fixture
def api(sw: SchedulingWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sw.url, timeout=30) as client:
        yield client


def internal(sw: SchedulingWorld, method: str, request: Any, response: type[Any]) -> Any:
    async def call() -> Any:
        address = f"127.0.0.1:{sw.stack.ports['scheduling']}"
        client = ServiceClient(internal_secret(), lambda _: address)
        try:
            return await client.call(
                "scheduling",
                INTERNAL + method,
                request,
                response,
                principal=service_principal("ai", request.tenant_id),
            )
        finally:
            await client.close()

    return asyncio.run(call())


def test_ai_tools_and_waitlist_offer_on_cancel(api: httpx.Client, sw: SchedulingWorld) -> None:
    owner = owner_with_provider(api)
    tenant_id = owner["tenant"]["id"]
    service = create_service(api, owner)
    contact_id = new_contact(api, owner)
    services = internal(
        sw,
        "ListBookableServices",
        internal_pb2.ListBookableServicesRequest(tenant_id=tenant_id),
        internal_pb2.ListBookableServicesResponse,
    )
    assert [s.id for s in services.services] == [service["id"]]
    free = internal(
        sw,
        "ListFreeSlots",
        internal_pb2.ListFreeSlotsRequest(
            tenant_id=tenant_id,
            service_id=service["id"],
            to="2027-05-03",
            limit=3,
            **{"from": "2027-05-03"},
        ),
        internal_pb2.ListFreeSlotsResponse,
    )
    assert [s.local_start[11:16] for s in free.slots] == ["09:00", "10:00", "11:00"]
    booked = internal(
        sw,
        "BookAppointment",
        internal_pb2.BookAppointmentRequest(
            tenant_id=tenant_id,
            service_id=service["id"],
            start="2027-05-03T09:00:00",
            contact_id=contact_id,
        ),
        scheduling_pb2.Appointment,
    )
    assert (booked.source, booked.status, booked.contact_id) == ("ai", "confirmed", contact_id)
    with pytest.raises(DomainError) as taken:
        internal(
            sw,
            "BookAppointment",
            internal_pb2.BookAppointmentRequest(
                tenant_id=tenant_id, service_id=service["id"], start="2027-05-03T09:00:00"
            ),
            scheduling_pb2.Appointment,
        )
    assert taken.value.code == "SLOT_TAKEN"

    entry = internal(
        sw,
        "JoinWaitlist",
        internal_pb2.JoinWaitlistRequest(
            tenant_id=tenant_id, service_id=service["id"], phone="+5511988887777", notes="mornings"
        ),
        scheduling_pb2.WaitlistEntry,
    )
    second = internal(
        sw,
        "JoinWaitlist",
        internal_pb2.JoinWaitlistRequest(
            tenant_id=tenant_id, service_id=service["id"], contact_id=contact_id
        ),
        scheduling_pb2.WaitlistEntry,
    )
    with pytest.raises(DomainError) as bad:
        internal(
            sw,
            "JoinWaitlist",
            internal_pb2.JoinWaitlistRequest(tenant_id=tenant_id, service_id=service["id"]),
            scheduling_pb2.WaitlistEntry,
        )
    assert bad.value.code == "VALIDATION_FAILED"
    listed = api.get("/v1/scheduling/waitlist", headers=owner["headers"]).json()["data"]
    assert [(e["id"], e["status"]) for e in listed] == [
        (entry.id, "waiting"),
        (second.id, "waiting"),
    ]

    cancelled = api.post(
        f"/v1/scheduling/appointments/{booked.id}/cancel", headers=owner["headers"], json={}
    )
    assert cancelled.status_code == 200, cancelled.text
    listed = api.get("/v1/scheduling/waitlist", headers=owner["headers"]).json()["data"]
    assert [(e["id"], e["status"]) for e in listed] == [
        (entry.id, "offered"),
        (second.id, "waiting"),
    ]
    [offer] = sql(
        sw.stack,
        "SELECT text, status FROM scheduling.waitlist_offers WHERE entry_id = $1",
        entry.id,
    )
    assert "2027-05-03 at 09:00" in offer["text"]
    # cancelling dropped the appointment's pending reminders
    assert (
        sql(
            sw.stack,
            "SELECT 1 FROM scheduling.reminders WHERE appointment_id = $1 AND status = 'pending'",
            booked.id,
        )
        == []
    )

    other = owner_with_provider(api)
    assert (
        api.delete(f"/v1/scheduling/waitlist/{entry.id}", headers=other["headers"]).status_code
        == 404
    )
    assert api.get("/v1/scheduling/waitlist", headers=other["headers"]).json()["data"] == []
    deleted = api.delete(f"/v1/scheduling/waitlist/{entry.id}", headers=owner["headers"])
    assert deleted.status_code == 204
    again = api.delete(f"/v1/scheduling/waitlist/{entry.id}", headers=owner["headers"])
    assert again.status_code == 404 and errors_of(again)[0]["code"] == "NOT_FOUND"
    # another tenant's service is not bookable through the tools
    with pytest.raises(DomainError) as foreign:
        internal(
            sw,
            "BookAppointment",
            internal_pb2.BookAppointmentRequest(
                tenant_id=other["tenant"]["id"],
                service_id=service["id"],
                start="2027-05-03T10:00:00",
            ),
            scheduling_pb2.Appointment,
        )
    assert foreign.value.http_status == 422


def test_internal_tools_refuse_members(api: httpx.Client, sw: SchedulingWorld) -> None:
    owner = owner_with_provider(api)
    response = api.get("/v1/scheduling/waitlist", headers=bearer(owner["token"]))
    assert response.status_code == 200
    # an internal RPC has no route: the gateway does not expose it
    assert (
        api.post("/plixa.scheduling.v1.SchedulingInternal/BookAppointment", json={}).status_code
        == 404
    )
