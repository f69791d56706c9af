"""The panel's live events: GET /v1/events as server-sent events through the gateway."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import bearer, errors_of, sql
from tests.test_notifications_support import (  # noqa: F401  (fixtures)
    Notifications,
    api_fixture,
    conversation_changed,
    inbound,
    notif_fixture,
    publish,
    workspace,
)
from tests.test_team import join
from tests.waiting import wait_until


@dataclass
class Frame:
    id: str | None = None
    event: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sse:
    frames: queue.Queue[Frame]
    comments: queue.Queue[str]
    response: httpx.Response

    def next(self, timeout: float = 10.0, event: str | None = None) -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no frame came")
            found = self.frames.get(timeout=remaining)
            if event is None or found.event == event:
                return found

    def quiet(self, seconds: float = 0.7) -> list[Frame]:
        """Frames that came within `seconds` (expected: none)."""
        time.sleep(seconds)
        out = []
        while not self.frames.empty():
            out.append(self.frames.get_nowait())
        return out


@contextmanager
def events(
    notif: Notifications,
    *,
    token: str | None = None,
    ticket: str | None = None,
    last: str | None = None,
) -> Iterator[Sse]:
    headers = bearer(token) if token else {}
    if last:
        headers["Last-Event-ID"] = last
    params = {"ticket": ticket} if ticket else {}
    client = httpx.Client(base_url=notif.url, timeout=httpx.Timeout(10, read=30))
    with client, client.stream("GET", "/v1/events", headers=headers, params=params) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        frames: queue.Queue[Frame] = queue.Queue()
        comments: queue.Queue[str] = queue.Queue()

        def read() -> None:
            current = Frame()
            try:
                for line in response.iter_lines():
                    if line.startswith(":"):
                        comments.put(line)
                    elif line.startswith("id: "):
                        current.id = line[4:]
                    elif line.startswith("event: "):
                        current.event = line[7:]
                    elif line.startswith("data: "):
                        current.data = json.loads(line[6:])
                    elif line == "" and current.data:
                        frames.put(current)
                        current = Frame()
            except (httpx.HTTPError, RuntimeError):
                pass

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        yield Sse(frames, comments, response)


def ticket_for(api: httpx.Client, token: str) -> str:
    minted = api.post("/v1/events/tickets", headers=bearer(token))
    assert minted.status_code == 201, minted.text
    data = minted.json()["data"]
    assert data["ticket"].startswith("st_") and data["expires_at"]
    return str(data["ticket"])


def test_a_message_arrives_live_and_resumes_after_a_reconnect(
    api: httpx.Client, notif: Notifications
) -> None:
    ws = workspace(api, notif)
    ticket = ticket_for(api, ws.token)
    with events(notif, ticket=ticket) as sse:
        event = inbound(ws.tenant_id, text="live one")
        publish(notif.stack, "inbox.message.inbound", event)
        frame = sse.next(event="message.inbound")
        assert frame.id and frame.data["id"] == frame.id
        assert frame.data["data"]["message"]["body"] == "live one"
        assert frame.data["conversation_id"] == event.conversation_id
        assert sse.comments.get(timeout=3).startswith(":")  # heartbeats (0.5 s in tests)
        last = frame.id
    for text in ("while away 1", "while away 2"):
        publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id, text=text))
    time.sleep(0.5)
    with events(notif, token=ws.token, last=last) as sse:
        first, second = sse.next(), sse.next()
        assert [first.data["data"]["message"]["body"], second.data["data"]["message"]["body"]] == [
            "while away 1",
            "while away 2",
        ]
        assert int(first.id or 0) > int(last) and int(second.id or 0) > int(first.id or 0)
        publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id, text="and live again"))
        assert sse.next().data["data"]["message"]["body"] == "and live again"


def test_tickets_are_single_use_and_required_without_a_bearer(
    api: httpx.Client, notif: Notifications
) -> None:
    ws = workspace(api, notif)
    ticket = ticket_for(api, ws.token)
    with events(notif, ticket=ticket):
        pass
    reused = api.get("/v1/events", params={"ticket": ticket})
    assert reused.status_code == 401
    assert errors_of(reused)[0]["code"] == "UNAUTHENTICATED"
    assert api.get("/v1/events", params={"ticket": "st_forged"}).status_code == 401
    assert api.get("/v1/events").status_code == 401
    assert api.post("/v1/events/tickets").status_code == 401
    bad = api.get("/v1/events", headers=bearer(ws.token), params={"last_event_id": "9" * 40})
    assert bad.status_code == 422
    assert errors_of(bad)[0]["field"] == "last_event_id"


def test_a_tenant_sees_only_its_own_events(api: httpx.Client, notif: Notifications) -> None:
    ws = workspace(api, notif)
    other = workspace(api, notif)
    with events(notif, token=other.token) as sse:
        publish(notif.stack, "inbox.message.inbound", inbound(ws.tenant_id, text="not yours"))
        publish(notif.stack, "inbox.message.inbound", inbound(other.tenant_id, text="yours"))
        frame = sse.next()
        assert frame.data["data"]["message"]["body"] == "yours"
        assert sse.quiet() == []


def test_restricted_agents_see_their_own_and_unassigned_conversations(
    api: httpx.Client, notif: Notifications
) -> None:
    ws = workspace(api, notif)
    agent = join(api, ws.token)
    agent_id = agent["user"]["id"]
    restricted = api.put(
        "/v1/security-config",
        headers=bearer(ws.token),
        json={"agent_restricted_to_own_conversations": True},
    )
    assert restricted.status_code == 200, restricted.text
    wait_until(  # identity's event reaches notifications
        lambda: sql(
            notif.stack,
            "SELECT 1 FROM notifications.tenant_settings"
            " WHERE tenant_id = $1 AND agents_restricted",
            ws.tenant_id,
        ),
        what="the restriction replicated",
    )
    mine, theirs, nobody = 910001, 910002, 910003
    with events(notif, token=agent["token"]) as sse, events(notif, token=ws.token) as owner:
        publish(
            notif.stack,
            "inbox.conversation.updated",
            conversation_changed(ws.tenant_id, mine, agent_id),
        )
        publish(
            notif.stack,
            "inbox.conversation.updated",
            conversation_changed(ws.tenant_id, theirs, ws.user_id),
        )
        publish(
            notif.stack, "inbox.conversation.updated", conversation_changed(ws.tenant_id, nobody)
        )
        for conversation in (mine, theirs, nobody):
            publish(
                notif.stack,
                "inbox.message.inbound",
                inbound(ws.tenant_id, conversation_id=conversation),
            )
        seen = [sse.next() for _ in range(5)] + sse.quiet()
        # Each conversation was unassigned (visible) before its update, so the agent learns
        # that `theirs` left its view; from then on nothing of `theirs` reaches the agent.
        assert sorted((f.event, f.data["conversation_id"]) for f in seen) == sorted(
            [
                ("conversation.updated", mine),
                ("conversation.updated", theirs),
                ("conversation.updated", nobody),
                ("message.inbound", mine),
                ("message.inbound", nobody),
            ]
        )
        assert len([owner.next() for _ in range(6)]) == 6  # the owner sees everything
