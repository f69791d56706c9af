"""Reminders and waitlist offers end to end: sent over WhatsApp through inbox's SendToContact
(and the Evolution fake), each exactly once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from plixa.scheduling.v1 import internal_pb2, scheduling_pb2
from tests.conftest import sql
from tests.fakes.evolution import EvolutionFake
from tests.scheduling_support import SchedulingWorld, create_service, owner_with_provider, world
from tests.test_scheduling_waitlist import internal
from tests.waiting import poll

ALL_DAY = [
    {"kind": "open", "weekday": d, "start_time": "00:00", "end_time": "24:00"} for d in range(7)
]


@pytest.fixture(scope="module")
def sw() -> SchedulingWorld:
    return world()


@pytest.fixture
def api(sw: SchedulingWorld) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sw.url, timeout=30) as client:
        yield client


def texts_to(fake: EvolutionFake, phone: str) -> list[str]:
    out = []
    for r in fake.sent():
        body = r.body if isinstance(r.body, dict) else {}
        if phone in json.dumps(body.get("number", "")):
            out.append(str(body.get("text", "")))
    return out


def test_a_reminder_and_a_waitlist_offer_go_out_once(
    api: httpx.Client, sw: SchedulingWorld
) -> None:
    fake = sw.stack.evolution
    assert fake is not None
    owner = owner_with_provider(api, "UTC", ALL_DAY)
    created = api.post("/v1/phone-instances", json={"name": "Front desk"}, headers=owner["headers"])
    assert created.status_code == 201, created.text
    instance = created.json()["data"]
    assert (
        fake.connect(instance["instance_name"], "5511" + str(uuid.uuid4().int)[:9]).status_code
        == 200
    )
    phone = "5521" + str(uuid.uuid4().int)[:9]
    contact = api.post(
        "/v1/contacts",
        headers=owner["headers"],
        json={"contact_phone": phone, "contact_name": "Bia"},
    )
    assert contact.status_code == 201, contact.text
    contact_id = contact.json()["data"]["id"]

    service = create_service(api, owner, reminder_offsets=[60])
    # 90 minutes ahead, or the next midnight when this test's bookings (up to 3 h later) would
    # run across one: a booking stays inside one local day's window, and the clock is real.
    start = (datetime.now(UTC) + timedelta(minutes=90)).replace(second=0, microsecond=0)
    if (start + timedelta(hours=3)).date() != start.date():
        start = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), UTC)
    booked = api.post(
        "/v1/scheduling/appointments",
        headers=owner["headers"],
        json={"service_id": service["id"], "start": start.isoformat(), "contact_id": contact_id},
    )
    assert booked.status_code == 201, booked.text
    appointment = booked.json()["data"]
    unknown = api.post(
        "/v1/scheduling/appointments",
        headers=owner["headers"],
        json={
            "service_id": service["id"],
            "start": (start + timedelta(hours=2)).isoformat(),
            "contact_id": 999999999,
        },
    )
    assert unknown.status_code == 422  # inbox's contact read says no such contact

    # The reminder is due 30 minutes from now: bring it forward.
    sql(
        sw.stack,
        "UPDATE scheduling.reminders SET next_attempt_at = now() WHERE appointment_id = $1",
        appointment["id"],
    )
    sent = poll(lambda: texts_to(fake, phone))
    assert sent and "Reminder: Haircut" in sent[0]
    time.sleep(1.0)  # a few more job ticks: nothing is sent again
    assert len(texts_to(fake, phone)) == 1
    [reminder] = sql(
        sw.stack,
        "SELECT status FROM scheduling.reminders WHERE appointment_id = $1",
        appointment["id"],
    )
    assert reminder["status"] == "sent"

    # The waitlist: someone waits by phone; the cancellation offers them the slot.
    waiting_phone = "5531" + str(uuid.uuid4().int)[:9]
    internal(
        sw,
        "JoinWaitlist",
        internal_pb2.JoinWaitlistRequest(
            tenant_id=owner["tenant"]["id"], service_id=service["id"], phone=waiting_phone
        ),
        scheduling_pb2.WaitlistEntry,
    )
    cancelled = api.post(
        f"/v1/scheduling/appointments/{appointment['id']}/cancel",
        headers=owner["headers"],
        json={"reason": "sick"},
    )
    assert cancelled.status_code == 200
    offers = poll(lambda: texts_to(fake, waiting_phone))
    assert offers and "opened up" in offers[0]
    time.sleep(1.0)
    assert len(texts_to(fake, waiting_phone)) == 1
