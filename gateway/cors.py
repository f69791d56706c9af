"""CORS for the panel and other browser clients, from an allowlist of origins.

Credentials are bearer tokens sent in `Authorization`, never cookies, so no answer ever carries
`Access-Control-Allow-Credentials`. A preflight (`OPTIONS` with `Access-Control-Request-Method`)
from an allowed origin is answered here with the verbs the route table has for that path; from any
other origin it is refused without CORS headers, so the browser stops there. Simple and actual
requests are served as usual; an allowed origin's answers say so and expose our own headers."""

from __future__ import annotations

from collections import defaultdict

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from gateway.routing import Template

ALLOWED_HEADERS = b"Authorization, Content-Type, Idempotency-Key, X-Request-Id"
EXPOSED_HEADERS = (
    b"X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
    b"Idempotent-Replayed"
)
MAX_AGE = b"600"  # seconds a browser may reuse a preflight's answer
VARY = (b"vary", b"Origin")
REFUSED_PREFLIGHT = (
    b'{"data":null,"meta":null,"errors":[{"code":"CORS_ORIGIN_NOT_ALLOWED",'
    b'"message":"This origin may not call the API from a browser."}]}'
)


class PathVerbs:
    """The HTTP verbs each path allows, from the route templates (built once)."""

    def __init__(self, routes: list[tuple[str, str]]) -> None:
        by_template: dict[str, set[str]] = defaultdict(set)
        for verb, template in routes:
            by_template[template].add(verb)
        self._by_length: dict[int, list[tuple[Template, set[str]]]] = defaultdict(list)
        for template, verbs in by_template.items():
            parsed = Template.parse(template)
            self._by_length[len(parsed.segments)].append((parsed, verbs))

    def add(self, verb: str, path: str) -> None:
        """A route served outside the table (the OpenAPI document)."""
        parsed = Template.parse(path)
        self._by_length[len(parsed.segments)].append((parsed, {verb}))

    def verbs(self, path: str) -> list[str]:
        parts = path.strip("/").split("/")
        found: set[str] = set()
        for template, verbs in self._by_length.get(len(parts), ()):
            if template.match(parts) is not None:
                found |= verbs
        return sorted(found)


class Cors:
    """Pure ASGI, like the gateway's other layers: a dictionary look-up per request."""

    def __init__(self, app: ASGIApp, origins: frozenset[str], paths: PathVerbs) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(o.encode() for o in origins if o != "*")
        self.paths = paths

    def allows(self, origin: bytes) -> bool:
        return self.any_origin or origin in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.origins or self.any_origin):
            await self.app(scope, receive, send)
            return
        origin = b""
        preflight = False
        for key, value in scope["headers"]:
            if key == b"origin":
                origin = value
            elif key == b"access-control-request-method":
                preflight = True
        if scope["method"] == "OPTIONS" and preflight and origin:
            verbs = self.paths.verbs(scope["path"])
            if verbs:  # an unknown path falls through to the enveloped 404
                await self._preflight(origin, verbs, send)
                return
        allowed = bool(origin) and self.allows(origin)

        async def send_with_cors(message: ASGIMessage) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), VARY]
                if allowed:
                    headers += [
                        (b"access-control-allow-origin", origin),
                        (b"access-control-expose-headers", EXPOSED_HEADERS),
                    ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, origin: bytes, verbs: list[str], send: Send) -> None:
        if not self.allows(origin):
            await _answer(send, 403, [VARY], REFUSED_PREFLIGHT)
            return
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", ", ".join(verbs).encode()),
            (b"access-control-allow-headers", ALLOWED_HEADERS),
            (b"access-control-max-age", MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]
        await _answer(send, 204, headers, b"")


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    if body:
        headers = [
            *headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
