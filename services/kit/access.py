"""Who may call an RPC, declared once in the proto and enforced the same way everywhere.

A public RPC carries `(plixa.common.v1.route)`: public, member or staff, owner-only, panel session
only, the token ability, the plan feature, the two-factor and suspension rules. An API token also
needs its workspace's plan to include API access, on every route. A service marked
`(plixa.common.v1.internal)` answers only other Plixa processes. The gateway checks the rule early
(`refusal`, rendered in its envelope); every service checks it again for every call (the kit's
interceptor), so a service called directly, without the gateway, refuses exactly the same callers.
An RPC with neither is refused: a forgotten annotation fails closed."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor

# Imported before reading options, or the extensions read as empty.
from plixa.common.v1 import options_pb2
from plixa.common.v1.principal_pb2 import Principal
from services.kit.errors import DomainError, forbidden, unauthenticated

# The standard health protocol answers anyone (Kubernetes probes, the gateway's readiness).
OPEN_PACKAGES = ("grpc.health.v1.",)

# A panel session (a member's sign-in) carries every ability, "*"; an API token carries only the
# abilities it was granted ("read", "write"; never "*": services/identity/domain/api_tokens.py).
# That is how a principal tells the two apart.
EVERY_ABILITY = "*"
# The plan feature without which a workspace's API tokens are refused everywhere.
API_ACCESS_FEATURE = "api_access"
API_ACCESS_ERROR = "PLAN_FEATURE_REQUIRED"
PANEL_SESSION_REQUIRED = "PANEL_SESSION_REQUIRED"
IMPERSONATION_FORBIDDEN = "IMPERSONATION_FORBIDDEN"


def is_impersonation(principal: Principal) -> bool:
    """A staff member acting as a workspace member (a token issued by the backoffice)."""
    return principal.impersonator_staff_id != 0


def is_api_token(principal: Principal) -> bool:
    """A member calling with an API token, not with a panel session (nor a pending sign-in)."""
    return (
        principal.kind == Principal.KIND_USER
        and not principal.two_factor_pending
        and EVERY_ABILITY not in principal.abilities
    )


def _forbidden(message: str) -> DomainError:
    return forbidden("FORBIDDEN", message)


def refusal(rule: options_pb2.Route, verb: str, principal: Principal | None) -> DomainError | None:
    """Why this principal may not call a route with this rule, or None when it may. Returned, not
    raised, so both sides render it their way. A token's ability is the route's declared one, or
    by verb: reads (GET) need `read`, everything else `write`. An API token is refused on every
    route while its workspace's plan lacks API access (a panel session is not), and on
    `session_only` routes always. An impersonation token (staff acting as a member) never
    reaches a staff route nor a `session_only` one (credentials, security, team roles, deletion)."""
    if rule.access == options_pb2.ACCESS_PUBLIC:
        return None
    if principal is None or principal.kind == Principal.KIND_ANONYMOUS:
        return unauthenticated()
    if is_impersonation(principal) and (
        rule.access == options_pb2.ACCESS_STAFF or rule.session_only
    ):
        return forbidden(
            IMPERSONATION_FORBIDDEN,
            "An impersonation session cannot reach staff routes nor change credentials.",
        )
    if rule.access == options_pb2.ACCESS_STAFF:
        if principal.kind != Principal.KIND_STAFF:
            return _forbidden("This route is for Plixa staff.")
        return _staff_second_factor_refusal(rule, principal)
    if principal.kind != Principal.KIND_USER:
        return _forbidden("This route is for workspace members.")
    if not principal.tenant_id:
        return unauthenticated()  # a member always belongs to a workspace
    if principal.two_factor_pending != rule.two_factor_challenge:
        if principal.two_factor_pending:
            return unauthenticated(
                "TWO_FACTOR_CHALLENGE_REQUIRED",
                "Complete the two-factor challenge at POST /v1/auth/2fa-challenge first.",
            )
        return _forbidden("There is no two-factor challenge to complete.")
    if rule.two_factor_challenge:
        return None  # a challenge token carries no abilities: it opens this route and nothing else
    if principal.tenant_status == "suspended" and not rule.allowed_when_suspended:
        return forbidden("TENANT_SUSPENDED", "This workspace is suspended.")
    if is_api_token(principal):
        if API_ACCESS_FEATURE not in principal.features:
            return forbidden(
                API_ACCESS_ERROR,
                "Your plan does not include API access, so API tokens are refused.",
            )
        if rule.session_only:
            return forbidden(
                PANEL_SESSION_REQUIRED,
                "This route takes a panel session (signing in), never an API token.",
            )
    if (
        principal.two_factor_required
        and not principal.two_factor_enabled
        and not rule.allowed_without_two_factor
    ):
        return forbidden(
            "TWO_FACTOR_REQUIRED", "This workspace requires two-factor authentication."
        )
    if rule.owner_only and principal.role != "owner":
        return _forbidden("Only the workspace owner can do this.")
    ability = rule.ability or ("read" if verb == "GET" else "write")
    if EVERY_ABILITY not in principal.abilities and ability not in principal.abilities:
        return forbidden("TOKEN_ABILITY_REQUIRED", f"This token lacks the '{ability}' ability.")
    if rule.feature and rule.feature not in principal.features:
        return forbidden(
            rule.feature_error or "PLAN_FEATURE_REQUIRED",
            f"Your plan does not include {rule.feature.replace('_', ' ')}.",
        )
    return None


def _staff_second_factor_refusal(
    rule: options_pb2.Route, principal: Principal
) -> DomainError | None:
    """Two-factor is mandatory for staff: a challenge token opens only the staff challenge, and a
    staff token without a second factor opens only the routes allowed without one (enrolment)."""
    if principal.two_factor_pending != rule.two_factor_challenge:
        if principal.two_factor_pending:
            return unauthenticated(
                "TWO_FACTOR_CHALLENGE_REQUIRED",
                "Complete the two-factor challenge at POST /v1/admin/auth/2fa-challenge first.",
            )
        return _forbidden("There is no two-factor challenge to complete.")
    enrolled = rule.two_factor_challenge or principal.two_factor_enabled
    if not enrolled and not rule.allowed_without_two_factor:
        return forbidden(
            "TWO_FACTOR_REQUIRED",
            "Plixa staff must enrol a second factor first (POST /v1/admin/2fa/setup).",
        )
    return None


def service_refusal(principal: Principal) -> DomainError | None:
    """Internal RPCs answer only other Plixa processes (a valid signature), never end users."""
    if principal.kind != Principal.KIND_SERVICE:
        return unauthenticated("SERVICE_ONLY", "This RPC is for Plixa services.")
    return None


def verb_of(rule: options_pb2.Route) -> str:
    """The HTTP verb of a route (`GET`, `POST`, …), from its pattern."""
    return (rule.WhichOneof("pattern") or "").upper()


@dataclass(frozen=True)
class MethodAccess:
    """The access rule of one RPC, resolved once from its descriptor."""

    method: str  # /pkg.Service/Method
    rule: options_pb2.Route | None  # a routed RPC
    verb: str
    internal: bool  # a method of an internal service
    open: bool  # answers anyone (health)

    def refusal(self, principal: Principal) -> DomainError | None:
        if self.open:
            return None
        if self.internal:
            return service_refusal(principal)
        if self.rule is not None:
            return refusal(self.rule, self.verb, principal)
        return undeclared(self.method)

    @property
    def template(self) -> str:
        """The route's path template (`/v1/contacts/{id}`); empty for an RPC with no route."""
        return str(getattr(self.rule, self.verb.lower())) if self.rule is not None else ""

    @property
    def declared(self) -> bool:
        return self.open or self.internal or self.rule is not None


def undeclared(method: str) -> DomainError:
    return DomainError(
        "ACCESS_UNDECLARED",
        f"{method} declares no access rule.",
        403,
        grpc.StatusCode.PERMISSION_DENIED,
    )


def find_method(method: str) -> MethodDescriptor | None:
    """The descriptor of `/pkg.Service/Method` in the generated pool, or None."""
    service_name, _, name = method.lstrip("/").partition("/")
    try:
        service = descriptor_pool.Default().FindServiceByName(service_name)
    except KeyError:
        return None
    return service.methods_by_name.get(name)


def method_access(method: str) -> MethodAccess:
    """The rule of an RPC by its full name; an unknown or unannotated RPC is refused to all."""
    open_ = method.lstrip("/").startswith(OPEN_PACKAGES)
    descriptor = find_method(method)
    if descriptor is None:
        return MethodAccess(method, None, "", False, open_)
    internal = bool(descriptor.containing_service.GetOptions().Extensions[options_pb2.internal])
    options = descriptor.GetOptions()
    rule = (
        options.Extensions[options_pb2.route] if options.HasExtension(options_pb2.route) else None
    )
    return MethodAccess(method, rule, verb_of(rule) if rule else "", internal, open_)
