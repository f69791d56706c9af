"""The gateway: one handler serves every /v1 route from the descriptor-built table.

A request travels: match route → resolve bearer (cached; bad tokens counted per client address)
→ route policy → rate limit → media type → read body (size-limited) → transcode to protobuf →
gRPC call with a deadline and a signed principal → transcode the answer → the {data, meta,
errors} envelope. Nothing of the body is read before the caller is known and counted."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import nats.errors
from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from google.protobuf.message import Message
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from gateway import constraints, streaming, transcode
from gateway.auth import Authenticator, TokenCache
from gateway.config import GatewaySettings
from gateway.cors import Cors, PathVerbs
from gateway.discovery import RouteSpec, discover_routes
from gateway.errors import GatewayError, error_items, invalid_input
from gateway.idempotency import HEADER as IDEMPOTENCY_HEADER
from gateway.idempotency import Claim, Idempotency, fingerprint
from gateway.openapi import build_openapi
from gateway.policy import enforce
from gateway.ratelimit import AuthFailures, Decision, RateLimiter
from gateway.routing import RouteTable
from gateway.upstream import Metadata, Upstreams
from plixa.common.v1 import http_body_pb2, options_pb2
from plixa.common.v1.principal_pb2 import Principal
from services.kit.logs import request_id_var, tenant_id_var
from services.kit.messaging import NatsLink
from services.kit.principal import with_client_address

log = logging.getLogger("plixa.gateway")
JSON = "application/json"
HTTP_BODY = "plixa.common.v1.HttpBody"
OPENAPI_PATH = "/v1/openapi.json"
# FastAPI's own OpenTelemetry asks the OTel API for its providers on every request even when none
# is configured (about 4 % of the gateway's CPU); our telemetry is the request log. Remove this
# the day Plixa exports traces.
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
# json.dumps with these options builds a new encoder per call; one is enough.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def envelope(
    data: Any = None,
    meta: Any = None,
    errors: Any = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    body = _encode({"data": data, "meta": meta, "errors": errors}).encode()
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def error_response(error: GatewayError, headers: dict[str, str] | None = None) -> Response:
    return envelope(
        errors=error_items(error.detail),
        status=error.status,
        headers={**(headers or {}), **error.headers},
    )


@dataclass
class Gateway:
    settings: GatewaySettings
    table: RouteTable
    upstreams: Upstreams
    auth: Authenticator
    limiter: RateLimiter
    auth_failures: AuthFailures
    nats: NatsLink
    idempotency: Idempotency
    openapi: dict[str, Any]
    stream_settings: streaming.StreamSettings = field(default_factory=streaming.StreamSettings.load)

    @classmethod
    def build(cls, settings: GatewaySettings) -> Gateway:
        routes = discover_routes()
        upstreams = Upstreams(settings.addresses, settings.internal_secret)
        nats_link = NatsLink(settings.nats_url, "plixa-gateway", "gateway", settings.nats_password)
        cache = TokenCache(
            settings.token_cache_seconds,
            refused_ttl_seconds=settings.refused_token_cache_seconds,
        )
        limiter = RateLimiter(nats_link, settings.limits)
        nats_link.reconnect_hooks.append(cache.clear)
        return cls(
            settings=settings,
            table=RouteTable(routes),
            upstreams=upstreams,
            auth=Authenticator(upstreams, cache, settings.timeout_ms / 1000),
            limiter=limiter,
            auth_failures=AuthFailures(limiter),
            nats=nats_link,
            idempotency=Idempotency(
                nats_link, settings.internal_secret, settings.idempotency_ttl_seconds
            ),
            openapi=build_openapi(routes),
        )

    # ── one request ───────────────────────────────────────────────────────────────────────

    async def respond(self, request: Request) -> Response:
        """Every answer of a /v1 route, failures included, in the envelope."""
        try:
            return await self.handle(request, request.state.request_id)
        except GatewayError as error:
            return error_response(error)
        except Exception:
            log.exception("unhandled gateway error")
            return envelope(
                errors=[{"code": "INTERNAL", "message": "Something went wrong on our side."}],
                status=500,
            )

    async def handle(self, request: Request, request_id: str) -> Response:
        # The path as routed (not request.url, which builds a whole URL object per request).
        route, params = self.table.match(request.method, request.scope["path"])
        if streaming.is_streaming(route):  # server-sent events: gateway/streaming.py
            return await streaming.open_stream(
                self, request, route, params, request_id, self.stream_settings
            )
        rule = route.rule
        principal = None
        if rule.access != options_pb2.ACCESS_PUBLIC:  # public routes ignore any bearer sent
            principal = await self._authenticate(request, request_id)
        enforce(rule, route.verb, principal)
        if principal is not None:
            tenant_id_var.set(principal.tenant_id)
        decision = await self._rate_limit(route, principal, request)
        limit_headers = decision.headers() if decision else {}
        if decision and not decision.allowed:
            raise _rate_limited(limit_headers)
        body = await self._read_body(request, route)
        message = await self._build_request(route, params, request, body)
        timeout = (rule.timeout_ms or self.settings.timeout_ms) / 1000
        key = request.headers.get(IDEMPOTENCY_HEADER) if route.verb == "POST" else None
        # Services see who calls and from where (the sign-in throttle keys on the address).
        caller = with_client_address(principal, _client_address(request))
        if key is None:
            return await self._call(route, message, timeout, caller, request_id, limit_headers)
        claim = await self.idempotency.begin(
            _subject(principal, request),  # per workspace, staff account or client address
            key,
            fingerprint(route.full_method, message.SerializeToString(deterministic=True)),
            in_flight_seconds=timeout + 10,
        )
        if isinstance(claim, Response):  # a retry: the first answer again
            claim.headers.update(limit_headers)
            return claim
        return await self._call_once(
            claim, route, message, timeout, caller, request_id, limit_headers
        )

    async def _call_once(
        self,
        claim: Claim,
        route: RouteSpec,
        message: Message,
        timeout: float,
        principal: Principal | None,
        request_id: str,
        limit_headers: dict[str, str],
    ) -> Response:
        """The call of an idempotent request: its answer is kept for retries (a failure on our
        side or a rate limit is not, and the key is released so a retry runs again)."""
        try:
            response = await self._call(
                route, message, timeout, principal, request_id, limit_headers
            )
        except GatewayError as error:
            if error.status >= 500 or error.status == 429:
                await self.idempotency.release(claim)
                raise
            response = error_response(error)
        except BaseException:
            await asyncio.shield(self.idempotency.release(claim))
            raise
        await self.idempotency.finish(claim, response)
        return response

    async def _call(
        self,
        route: RouteSpec,
        message: Message,
        timeout: float,
        principal: Principal | None,
        request_id: str,
        limit_headers: dict[str, str],
    ) -> Response:
        rule = route.rule
        response, trailing = await self.upstreams.call(
            route.service,
            route.full_method,
            message,
            route.response_class,
            timeout=timeout,
            principal=principal,
            request_id=request_id,
        )
        self._apply_invalidations(trailing)
        status = rule.success_status or 200
        if status == 204:
            return Response(status_code=204, headers=limit_headers)
        return self._render(route, response, status, limit_headers)

    async def _authenticate(self, request: Request, request_id: str) -> Principal | None:
        """The bearer's principal. A bad token is counted against the client address; past the
        `auth_failure` limit the address gets 429, and identity is not asked at all."""
        address = _subject(None, request)  # the client address

        def unless_blocked() -> None:
            if (blocked := self.auth_failures.blocked(address)) is not None:
                raise _rate_limited(blocked.headers())

        try:
            return await self.auth.resolve(
                request.headers.get("authorization"), request_id, unless_blocked
            )
        except GatewayError as error:
            if error.status != 401:
                raise
            try:
                decision = await self.auth_failures.record(address)
            except (nats.errors.Error, TimeoutError, OSError) as exc:
                log.warning("rate limiter unavailable, not counting a bad token: %s", exc)
                raise error from None
            if not decision.allowed:
                raise _rate_limited(decision.headers()) from None
            raise

    async def _read_body(self, request: Request, route: RouteSpec) -> bytes:
        headers = request.headers
        if "content-length" not in headers and "transfer-encoding" not in headers:
            return b""  # HTTP/1.1: a request without either has no body (most GETs)
        rule = route.rule
        if not rule.body:
            return b""  # the route reads nothing from a body: none is read (nor buffered)
        is_form = headers.get("content-type", "").startswith("multipart/form-data")
        if is_form and route.raw_field is None and not transcode.route_accepts_files(route):
            raise GatewayError(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "This route takes a JSON body (application/json), not multipart/form-data.",
            )
        limit = rule.max_body_bytes or (
            self.settings.max_upload_bytes if is_form else self.settings.max_body_bytes
        )
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _rate_limit(
        self, route: RouteSpec, principal: Principal | None, request: Request
    ) -> Decision | None:
        subject = _subject(principal, request)
        try:
            return await self.limiter.hit(route.rule.rate_limit or "default", subject)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            log.warning("rate limiter unavailable, letting the request through: %s", exc)
            return None

    async def _build_request(
        self, route: RouteSpec, params: dict[str, str], request: Request, body: bytes
    ) -> Message:
        message = route.request_class()
        rule = route.rule
        body_keys: set[str] = set()
        if route.raw_field is not None:
            transcode.fill_raw(getattr(message, route.raw_field), body, request.headers, rule)
        elif rule.body:
            content_type = request.headers.get("content-type", "")
            if content_type.startswith("multipart/form-data"):
                await self._fill_from_form(message, request, body, rule.body)
            else:
                data = transcode.parse_json_body(body)
                target = message if rule.body == "*" else getattr(message, rule.body)
                transcode.fill_message(target, data)
                transcode.set_update_mask(message, list(data))  # requests with a mask only
                body_keys = set(data) if rule.body == "*" else set()
        transcode.apply_query(
            message, list(request.query_params.multi_items()), skip=set(params), body=body_keys
        )
        transcode.apply_path_params(message, params)
        constraints.validate(message)
        return message

    async def _fill_from_form(
        self, message: Message, request: Request, body: bytes, body_field: str
    ) -> None:
        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        form_request = Request(request.scope, receive=replay)
        try:
            form = await form_request.form(max_part_size=self.settings.max_upload_bytes)
        except (MultiPartException, StarletteHTTPException) as exc:  # e.g. no boundary
            detail = getattr(exc, "detail", None) or getattr(exc, "message", "")
            raise invalid_input("body", f"The multipart body is malformed: {detail}") from None
        try:
            files: dict[str, bytes] = {}
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files[key.removesuffix("[]")] = await value.read()
            target = message if body_field == "*" else getattr(message, body_field)
            transcode.apply_form(target, list(form.multi_items()), files)
        finally:
            await form.close()

    def _apply_invalidations(self, trailing: Metadata) -> None:
        for key, value in trailing:
            if key.startswith("plixa-invalidate-") and isinstance(value, str):
                self.auth.cache.apply_invalidation(key, value)

    def _render(
        self, route: RouteSpec, response: Message, status: int, headers: dict[str, str]
    ) -> Response:
        shape = _response_shape(route)
        if shape.is_file:  # files are sent as they are
            body = cast(http_body_pb2.HttpBody, response)
            headers = {**headers, "X-Content-Type-Options": "nosniff"}
            if body.cache_control:
                headers["Cache-Control"] = body.cache_control
            return Response(body.data, status, headers, media_type=body.content_type)
        meta = None
        if shape.data_field:
            data = transcode.field_out(response, shape.data_field)
            if shape.has_meta and response.HasField("meta"):
                meta = transcode.to_json(response.meta)  # type: ignore[attr-defined]
        else:
            data = transcode.to_json(response)
        return envelope(data, meta, status=status, headers=headers)

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        services = sorted({route.service for route in self.table.routes} | {"identity"})
        states = await asyncio.gather(*(self.upstreams.health(s) for s in services))
        report = dict(zip(services, states, strict=True))
        nats_up = bool(self.nats.client and self.nats.client.is_connected)
        report["nats"] = "serving" if nats_up else "unreachable"
        # Without identity no token resolves; without NATS no limit holds: not ready.
        return report["identity"] == "serving" and nats_up, report


class ApiRoutes:
    """Serves /v1 (but the OpenAPI document) from the gateway's own route table."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path == OPENAPI_PATH:
            await self.app(scope, receive, send)
            return
        response = await self.gateway.respond(Request(scope, receive))
        await response(scope, receive, send)


class RequestContext:
    """Pure ASGI (cheaper than an http middleware): a request id for every response and log line,
    and one structured log line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
        request_id = request_id or os.urandom(16).hex()  # uuid4-strong, a quarter of its cost
        request_id_var.set(request_id)
        tenant_id_var.set(0)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: ASGIMessage) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)
        if not log.isEnabledFor(logging.INFO):
            return
        log.info(
            "request",
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )


def _subject(principal: Principal | None, request: Request) -> str:
    """Whose budget a request spends: the workspace, the staff account, or the client address."""
    if principal is not None and principal.tenant_id:
        return f"t{principal.tenant_id}"
    if principal is not None and principal.staff_id:
        return f"s{principal.staff_id}"
    return f"ip{_client_address(request) or 'unknown'}"


def _client_address(request: Request) -> str:
    """The peer, or the client a trusted proxy named in X-Forwarded-For (uvicorn resolves it)."""
    return request.client.host if request.client else ""


@dataclass(frozen=True)
class _ResponseShape:
    """How a route's answer becomes the envelope, read once from its descriptors."""

    is_file: bool
    data_field: str  # the route's `response_body`, or "" for the whole message
    has_meta: bool


_shapes: dict[str, _ResponseShape] = {}


def _response_shape(route: RouteSpec) -> _ResponseShape:
    shape = _shapes.get(route.full_method)
    if shape is None:
        descriptor = route.response_class.DESCRIPTOR
        shape = _shapes[route.full_method] = _ResponseShape(
            is_file=descriptor.full_name == HTTP_BODY,
            data_field=route.rule.response_body,
            has_meta="meta" in descriptor.fields_by_name,
        )
    return shape


def _too_large(limit: int) -> GatewayError:
    return GatewayError(413, "PAYLOAD_TOO_LARGE", f"The body may not exceed {limit} bytes.")


def _rate_limited(headers: dict[str, str]) -> GatewayError:
    return GatewayError(
        429, "RATE_LIMITED", "Too many requests. Slow down and retry later.", headers=headers
    )


def create_app(settings: GatewaySettings | None = None) -> ASGIApp:
    settings = settings or GatewaySettings.load()
    gateway = Gateway.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway.nats.start()
        listener = asyncio.create_task(gateway.auth.listen_for_revocations(gateway.nats))
        # Start-up's objects (route table, descriptors, OpenAPI) live as long as the process:
        # out of the collector's reach, full collections stop walking them mid-request.
        gc.collect()
        gc.freeze()
        yield
        listener.cancel()
        await gateway.nats.close()
        await gateway.upstreams.close()

    app = FastAPI(
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry=NO_TELEMETRY,
    )

    @app.get("/healthz")
    async def liveness() -> Response:
        return envelope({"status": "alive"})

    @app.get("/readyz")
    async def readiness() -> Response:
        ready, report = await gateway.readiness()
        return envelope(
            {"status": "ready" if ready else "not_ready", "checks": report},
            status=200 if ready else 503,
        )

    @app.get(OPENAPI_PATH)
    async def openapi() -> Response:
        return Response(json.dumps(gateway.openapi), media_type=JSON)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return error_response(GatewayError(405, "METHOD_NOT_ALLOWED", "Method not allowed."))
        if exc.status_code == 404:
            return error_response(
                GatewayError(
                    404,
                    "ROUTE_NOT_FOUND",
                    f"No route for {request.method} {request.url.path}.",
                )
            )
        return error_response(GatewayError(exc.status_code, "HTTP_ERROR", str(exc.detail)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return envelope(
            errors=[{"code": "INTERNAL", "message": "Something went wrong on our side."}],
            status=500,
        )

    # Every request gets its id and CORS first; /v1 then goes straight to the gateway (none of
    # FastAPI's middleware, routing or dependency resolution per request: the route table is
    # ours, and Gateway.respond envelopes every failure); everything else is FastAPI's.
    verbs = PathVerbs([(r.verb, r.template) for r in gateway.table.routes])
    verbs.add("GET", OPENAPI_PATH)
    return RequestContext(Cors(ApiRoutes(app, gateway), origins=settings.cors_origins, paths=verbs))
