"""The route policy from the proto annotation, enforced in one place for every route."""

from __future__ import annotations

from gateway.auth import unauthenticated
from gateway.errors import GatewayError
from plixa.common.v1 import options_pb2
from plixa.common.v1.principal_pb2 import Principal


def enforce(rule: options_pb2.Route, verb: str, principal: Principal | None) -> None:
    """Refuses the call unless the principal may use this route. A token's ability is the route's
    declared one, or by verb: reads need `read`, everything else `write`."""
    if rule.access == options_pb2.ACCESS_PUBLIC:
        return
    if principal is None:
        raise unauthenticated()
    if rule.access == options_pb2.ACCESS_STAFF:
        if principal.kind != Principal.KIND_STAFF:
            raise GatewayError(403, "FORBIDDEN", "This route is for Plixa staff.")
        return
    if principal.kind != Principal.KIND_USER:
        raise GatewayError(403, "FORBIDDEN", "This route is for workspace members.")
    if principal.two_factor_pending != rule.two_factor_challenge:
        if principal.two_factor_pending:
            raise GatewayError(
                401,
                "TWO_FACTOR_CHALLENGE_REQUIRED",
                "Complete the two-factor challenge at POST /v1/auth/2fa-challenge first.",
            )
        raise GatewayError(403, "FORBIDDEN", "There is no two-factor challenge to complete.")
    if rule.two_factor_challenge:
        return  # a challenge token carries no abilities: it opens this route and nothing else
    if principal.tenant_status == "suspended" and not rule.allowed_when_suspended:
        raise GatewayError(403, "TENANT_SUSPENDED", "This workspace is suspended.")
    if (
        principal.two_factor_required
        and not principal.two_factor_enabled
        and not rule.allowed_without_two_factor
    ):
        raise GatewayError(
            403,
            "TWO_FACTOR_REQUIRED",
            "This workspace requires two-factor authentication.",
        )
    if rule.owner_only and principal.role != "owner":
        raise GatewayError(403, "FORBIDDEN", "Only the workspace owner can do this.")
    ability = rule.ability or ("read" if verb == "GET" else "write")
    if "*" not in principal.abilities and ability not in principal.abilities:
        raise GatewayError(
            403, "TOKEN_ABILITY_REQUIRED", f"This token lacks the '{ability}' ability."
        )
    if rule.feature and rule.feature not in principal.features:
        raise GatewayError(
            403,
            rule.feature_error or "PLAN_FEATURE_REQUIRED",
            f"Your plan does not include {rule.feature.replace('_', ' ')}.",
        )
