"""Server-streaming RPCs as server-sent events, driven by the proto like every other route.

A route whose RPC `returns (stream M)` answers `text/event-stream`: each message is one frame,
`id:` from M's `id` field (when it has one), `event:` from its `type` field, `data:` M as the
API's JSON on one line. The caller is checked exactly as for any route (bearer, policy, rate
limit, query validation) before the stream opens; what the service refuses before its first
frame is answered in the usual envelope.

- EventSource cannot send an Authorization header: without one, `?ticket=…` is accepted: a
  single-use, short-lived ticket minted by an authenticated POST (for GET /v1/events:
  POST /v1/events/tickets), redeemed at `TICKET_SERVICE` for the principal that minted it.
- `Last-Event-ID` (the header EventSource sends when it reconnects, or `?last_event_id=`) fills
  the request's `last_event_id` field, so the service resumes after it.
- A comment line (`: ping`) every `heartbeat` seconds of silence keeps proxies from closing an
  idle stream and lets the gateway notice a client that went away.
- A client that does not read is dropped: frames wait in a small bounded queue, and a write that
  cannot complete within `write_timeout` (the socket's buffer stays full) ends the stream. The
  upstream gRPC stream's own flow control holds the service back meanwhile, so nothing is
  buffered without bound anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway import constraints, transcode
from gateway.errors import GatewayError
from gateway.policy import enforce
from plixa.common.v1.principal_pb2 import Principal
from services.kit.errors import detail_from_status
from services.kit.interceptors import REQUEST_ID_KEY
from services.kit.principal import service_principal, sign, with_client_address

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.discovery import RouteSpec

log = logging.getLogger("plixa.gateway.streaming")

TICKET_PARAM = "ticket"
LAST_EVENT_ID_FIELD = "last_event_id"
# Where stream tickets are redeemed: notifications mints them (POST /v1/events/tickets).
TICKET_SERVICE = "notifications"
TICKET_METHOD = "/plixa.notifications.v1.StreamTickets/RedeemStreamTicket"
QUEUE_FRAMES = 32


@dataclass(frozen=True)
class StreamSettings:
    heartbeat: float = 15.0
    write_timeout: float = 10.0
    open_timeout: float = 10.0  # for the service to accept (or refuse) the stream

    @classmethod
    def load(cls) -> StreamSettings:
        from services.kit.config import setting_float

        return cls(
            heartbeat=setting_float("PLIXA_SSE_HEARTBEAT_SECONDS", 15.0, minimum=0.05),
            write_timeout=setting_float("PLIXA_SSE_WRITE_TIMEOUT_SECONDS", 10.0, minimum=0.05),
        )


def is_streaming(route: RouteSpec) -> bool:
    return bool(route.method.server_streaming)


async def open_stream(
    gateway: Gateway,
    request: Request,
    route: RouteSpec,
    params: dict[str, str],
    request_id: str,
    settings: StreamSettings,
) -> Response:
    """The checked, opened stream as an ASGI response; GatewayError before it opens."""
    rule = route.rule
    ticket = request.query_params.get(TICKET_PARAM)
    principal: Principal | None
    if ticket and "authorization" not in request.headers:
        principal = await _redeem(gateway, ticket, route, request_id)
    else:
        principal = await gateway._authenticate(request, request_id)
    enforce(rule, route.verb, principal)
    decision = await gateway._rate_limit(route, principal, request)
    if decision and not decision.allowed:
        raise GatewayError(
            429,
            "RATE_LIMITED",
            "Too many requests. Slow down and retry later.",
            headers=decision.headers(),
        )
    message = _build(route, params, request)
    caller = with_client_address(principal, request.client.host if request.client else "")
    channel = gateway.upstreams.client.channel(route.service)
    call = channel.unary_stream(
        route.full_method,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=route.response_class.FromString,
    )(
        message,
        metadata=[
            (REQUEST_ID_KEY, request_id),
            *sign(caller, gateway.settings.internal_secret, route.full_method, request_id),
        ],
        timeout=(rule.timeout_ms / 1000) if rule.timeout_ms else None,
    )
    try:
        async with asyncio.timeout(settings.open_timeout):
            await call.initial_metadata()  # the service accepted: its checks passed
    except TimeoutError:
        call.cancel()
        raise GatewayError(
            504, "UPSTREAM_TIMEOUT", "The service did not open the stream."
        ) from None
    if call.done():
        code = await call.code()
        if code != grpc.StatusCode.OK:
            detail = detail_from_status(code, await call.details(), await call.trailing_metadata())
            raise GatewayError.from_detail(detail)
    return EventStream(call, settings)


async def _redeem(gateway: Gateway, ticket: str, route: RouteSpec, request_id: str) -> Principal:
    from plixa.notifications.v1 import live_pb2

    try:
        principal, _ = await gateway.upstreams.call(
            TICKET_SERVICE,
            TICKET_METHOD,
            live_pb2.RedeemStreamTicketRequest(ticket=ticket[:256], method=route.full_method),
            Principal,
            timeout=gateway.settings.timeout_ms / 1000,
            principal=service_principal("gateway"),
            request_id=request_id,
        )
    except GatewayError as error:
        if error.status >= 500:
            raise
        raise GatewayError(
            401, "UNAUTHENTICATED", "The stream ticket is unknown, used or expired."
        ) from None
    return principal


def _build(route: RouteSpec, params: dict[str, str], request: Request) -> Message:
    message = route.request_class()
    query = [(k, v) for k, v in request.query_params.multi_items() if k != TICKET_PARAM]
    transcode.apply_query(message, query, skip=set(params), body=set())
    transcode.apply_path_params(message, params)
    last_event_id = request.headers.get("last-event-id")
    fields = message.DESCRIPTOR.fields_by_name
    if (
        last_event_id
        and LAST_EVENT_ID_FIELD in fields
        and not message.HasField(LAST_EVENT_ID_FIELD)
    ):
        transcode.apply_query(
            message, [(LAST_EVENT_ID_FIELD, last_event_id)], skip=set(), body=set()
        )
    constraints.validate(message)
    return message


def frame(message: Message) -> bytes:
    """One SSE frame of a message (data on one line: JSON never holds a raw newline)."""
    fields = message.DESCRIPTOR.fields_by_name
    lines = []
    for name, label in (("id", "id"), ("type", "event")):
        if name in fields and (value := str(getattr(message, name))):
            lines.append(f"{label}: {value}")
    data = json.dumps(transcode.to_json(message), ensure_ascii=False, separators=(",", ":"))
    lines.append(f"data: {data}")
    return ("\n".join(lines) + "\n\n").encode()


class EventStream(Response):
    """The ASGI response of one open stream."""

    def __init__(self, call: Any, settings: StreamSettings) -> None:
        super().__init__(status_code=200, media_type="text/event-stream")
        self.call = call
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_FRAMES)
        gone = asyncio.Event()

        async def pump() -> None:
            try:
                async for message in self.call:
                    await queue.put(frame(message))
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.CANCELLED:
                    detail = detail_from_status(
                        error.code(), error.details(), error.trailing_metadata()
                    )
                    body = json.dumps({"code": detail.code, "message": detail.message})
                    await queue.put(f"event: error\ndata: {body}\n\n".encode())
            finally:
                await queue.put(None)

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        reader = asyncio.create_task(pump())
        watcher = asyncio.create_task(watch())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream; charset=utf-8"),
                        (b"cache-control", b"no-cache, no-transform"),
                        (b"x-accel-buffering", b"no"),
                    ],
                }
            )
            await self._write(send, b"retry: 3000\n: open\n\n")
            while not gone.is_set():
                try:
                    chunk = await asyncio.wait_for(queue.get(), self.settings.heartbeat)
                except TimeoutError:
                    chunk = b": ping\n\n"
                if chunk is None:
                    break
                if not await self._write(send, chunk):
                    log.info("stream dropped: the client does not read")
                    break
            with contextlib.suppress(Exception):
                await asyncio.wait_for(send({"type": "http.response.body", "body": b""}), 1.0)
        finally:
            self.call.cancel()
            reader.cancel()
            watcher.cancel()
            await asyncio.gather(reader, watcher, return_exceptions=True)

    async def _write(self, send: Send, chunk: bytes) -> bool:
        try:
            await asyncio.wait_for(
                send({"type": "http.response.body", "body": chunk, "more_body": True}),
                self.settings.write_timeout,
            )
        except (TimeoutError, OSError):
            return False
        return True
