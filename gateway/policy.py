"""The route policy from the proto annotation, checked early for every route. The rule itself is
the kit's (services/kit/access.py), so each service enforces exactly the same one again."""

from __future__ import annotations

from gateway.auth import unauthenticated
from gateway.errors import GatewayError
from plixa.common.v1 import options_pb2
from plixa.common.v1.principal_pb2 import Principal
from services.kit.access import refusal


def enforce(rule: options_pb2.Route, verb: str, principal: Principal | None) -> None:
    """Refuses the call unless the principal may use this route."""
    refused = refusal(rule, verb, principal)
    if refused is None:
        return
    if refused.code == "UNAUTHENTICATED":
        raise unauthenticated(refused.message)  # with its WWW-Authenticate challenge
    raise GatewayError(refused.http_status, refused.code, refused.message)
