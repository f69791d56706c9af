"""Who may publish and consume what on NATS. Every process connects as its own user (named after
it, password PLIXA_NATS_PASSWORD) and may publish only its own events (`<service>.>`, into its
stream PLIXA_<SERVICE>) plus the JetStream API calls its own stream, the streams it consumes and
(the gateway) its key-value buckets need; it receives only replies to its own requests and the
core subjects it subscribes to. So inbox's credentials cannot publish `billing.*`.

The test stack's private nats-server (scripts/mesh.py) and deploy/ are configured from this."""

from __future__ import annotations

import json

from services.kit.config import SERVICES

# The streams each service reads events from (its `Subscription`s' subjects' first token);
# tests/test_nats_auth.py checks this against the services' subscriptions.
CONSUMES: dict[str, tuple[str, ...]] = {
    "identity": ("billing",),
    # identity and billing for its directory; every service for impersonated actions' audit
    "backoffice": ("identity", "inbox", "ai", "scheduling", "billing", "notifications"),
    "inbox": ("identity", "billing"),
    "scheduling": ("billing",),  # billing.deposit.paid
    "notifications": ("inbox", "identity", "scheduling"),
}
GATEWAY = "gateway"
# The gateway's key-value buckets (rate limits, idempotency) and the identity events it follows
# on core NATS to drop revoked tokens from its cache.
GATEWAY_BUCKETS = ("plixa_rate_limits", "plixa_idempotency")
GATEWAY_FOLLOWS = ("identity.token.revoked", "identity.access.changed")
PROCESSES = (*SERVICES, GATEWAY)


def _stream_access(stream: str) -> list[str]:
    return [f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.CREATE.{stream}"]


def _consumer_access(stream: str) -> list[str]:
    return [
        f"$JS.API.CONSUMER.*.{stream}.>",  # INFO, CREATE, DELETE of its consumers
        f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.ACK.{stream}.>",
    ]


def permissions(process: str) -> dict[str, list[str]]:
    """The subjects `process` may publish to and subscribe to."""
    publish = ["$JS.API.INFO"]
    subscribe = ["_INBOX.>"]  # replies: JetStream acks, fetched messages, API answers
    if process == GATEWAY:
        for bucket in GATEWAY_BUCKETS:
            stream = f"KV_{bucket}"
            publish += [
                f"$KV.{bucket}.>",
                *_stream_access(stream),
                f"$JS.API.STREAM.MSG.GET.{stream}",
                f"$JS.API.DIRECT.GET.{stream}.>",
            ]
        subscribe += GATEWAY_FOLLOWS
    else:
        own = f"PLIXA_{process.upper()}"
        publish += [f"{process}.>", *_stream_access(own)]
        for source in CONSUMES.get(process, ()):
            stream = f"PLIXA_{source.upper()}"
            publish += [*_stream_access(stream), *_consumer_access(stream)]
    return {"publish": publish, "subscribe": subscribe}


def server_config(
    passwords: dict[str, str], listen: str, store_dir: str, operator_password: str = ""
) -> str:
    """A nats-server configuration with one user per process of `passwords` (process ->
    password). A value given as `$NAME` is left for nats-server to read from its environment
    (deploy/); `operator_password` adds an unrestricted `operator` user (the test harness)."""

    def value(text: str) -> str:
        return text if text.startswith("$") else json.dumps(text)

    users = []
    for process, password in passwords.items():
        allowed = permissions(process)
        users.append(
            f"    {{user: {json.dumps(process)}, password: {value(password)}, "
            "permissions: {"
            f"publish: {{allow: {json.dumps(allowed['publish'])}}}, "
            f"subscribe: {{allow: {json.dumps(allowed['subscribe'])}}}}}}}"
        )
    if operator_password:
        users.append(f'    {{user: "operator", password: {value(operator_password)}}}')
    return (
        f"listen: {json.dumps(listen)}\n"
        f"jetstream {{store_dir: {json.dumps(store_dir)}}}\n"
        "authorization {\n  users = [\n" + ",\n".join(users) + "\n  ]\n}\n"
    )
