"""The declared access rule: the pure rule, its reading from the real descriptors, and the
verification cache that runs before it on every call."""

from __future__ import annotations

import time

import grpc
import pytest

from gateway.discovery import load_contract_modules
from plixa.common.v1 import health_pb2_grpc, options_pb2
from plixa.common.v1.principal_pb2 import Principal
from plixa.identity.v1 import identity_pb2_grpc
from services.kit.access import method_access, refusal
from services.kit.errors import DomainError
from services.kit.principal import PRINCIPAL_METADATA_KEY, PrincipalVerifier, sign
from services.kit.server import register_servicer
from tests.principals import owner_principal

SECRET = b"unit-test-secret"
M, R = "/plixa.identity.v1.Identity/GetMe", "request-1"  # what a signature is bound to
CONTRACT = load_contract_modules()


def owner(**changes: object) -> Principal:
    return owner_principal(**{"user_id": 7, "tenant_id": 3, **changes})


def code_of(rule: options_pb2.Route, verb: str, principal: Principal | None) -> str | None:
    refused = refusal(rule, verb, principal)
    return None if refused is None else refused.code


MEMBER = options_pb2.Route(get="/v1/x")
OWNER_FEATURE = options_pb2.Route(post="/v1/x", owner_only=True, feature="api_access")


def test_a_member_route_admits_a_member_and_refuses_everyone_else() -> None:
    assert code_of(MEMBER, "GET", owner(role="agent")) is None
    assert code_of(MEMBER, "GET", None) == "UNAUTHENTICATED"
    assert code_of(MEMBER, "GET", Principal()) == "UNAUTHENTICATED"  # anonymous
    assert code_of(MEMBER, "GET", Principal(kind=Principal.KIND_STAFF, staff_id=1)) == "FORBIDDEN"
    assert code_of(MEMBER, "GET", Principal(kind=Principal.KIND_SERVICE)) == "FORBIDDEN"
    assert code_of(MEMBER, "GET", owner(tenant_id=0)) == "UNAUTHENTICATED"


def test_each_rule_has_its_own_code_and_status() -> None:
    cases = [
        (owner(role="agent"), "FORBIDDEN", 403),
        (owner(abilities=["read"]), "TOKEN_ABILITY_REQUIRED", 403),
        (owner(features=[]), "PLAN_FEATURE_REQUIRED", 403),
        (owner(tenant_status="suspended"), "TENANT_SUSPENDED", 403),
        (owner(two_factor_required=True), "TWO_FACTOR_REQUIRED", 403),
        (owner(two_factor_pending=True), "TWO_FACTOR_CHALLENGE_REQUIRED", 401),
    ]
    for principal, code, status in cases:
        refused = refusal(OWNER_FEATURE, "POST", principal)
        assert refused is not None and (refused.code, refused.http_status) == (code, status)
    assert refusal(OWNER_FEATURE, "POST", owner()) is None


def test_the_ability_follows_the_verb_unless_declared() -> None:
    reader = owner(abilities=["read"])
    assert code_of(MEMBER, "GET", reader) is None
    assert code_of(options_pb2.Route(post="/v1/x"), "POST", reader) == "TOKEN_ABILITY_REQUIRED"
    declared = options_pb2.Route(post="/v1/x", ability="read")
    assert code_of(declared, "POST", reader) is None


def test_a_feature_error_names_the_missing_feature() -> None:
    rule = options_pb2.Route(get="/v1/x", feature="flows", feature_error="FLOWS_NOT_IN_PLAN")
    assert code_of(rule, "GET", owner()) == "FLOWS_NOT_IN_PLAN"


def api_token(**changes: object) -> Principal:
    """A member calling with an API token: only the abilities it was granted, never "*"."""
    return owner(**{"abilities": ["read", "write"], **changes})


def test_an_api_token_of_a_plan_without_api_access_is_refused_on_every_route() -> None:
    downgraded = api_token(features=["flows"])
    rules = [
        MEMBER,
        options_pb2.Route(get="/v1/me", allowed_when_suspended=True),
        options_pb2.Route(post="/v1/auth/logout", allowed_without_two_factor=True),
        OWNER_FEATURE,
    ]
    for rule in rules:
        refused = refusal(rule, "GET", downgraded)
        assert refused is not None and (refused.code, refused.http_status) == (
            "PLAN_FEATURE_REQUIRED",
            403,
        )
    assert code_of(MEMBER, "GET", owner(features=[])) is None  # a panel session keeps working
    assert code_of(MEMBER, "GET", api_token()) is None  # with the feature, the token works


def test_a_session_only_route_refuses_every_api_token() -> None:
    rule = options_pb2.Route(post="/v1/api-tokens", owner_only=True, session_only=True)
    for token in (api_token(), api_token(abilities=["write"]), api_token(abilities=["read"])):
        refused = refusal(rule, "POST", token)
        assert refused is not None and (refused.code, refused.http_status) == (
            "PANEL_SESSION_REQUIRED",
            403,
        )
    assert code_of(rule, "POST", owner()) is None
    assert code_of(options_pb2.Route(post="/v1/x"), "POST", api_token()) is None


def test_an_impersonation_session_reaches_member_routes_but_no_staff_nor_credential_route() -> None:
    acting = owner(impersonator_staff_id=9)
    assert code_of(MEMBER, "GET", acting) is None
    assert code_of(options_pb2.Route(post="/v1/x"), "POST", acting) is None
    credentials = options_pb2.Route(post="/v1/me/2fa/setup", session_only=True)
    staff_rule = options_pb2.Route(get="/v1/admin/tenants", access=options_pb2.ACCESS_STAFF)
    for rule in (credentials, staff_rule):
        refused = refusal(rule, "POST", acting)
        assert refused is not None and (refused.code, refused.http_status) == (
            "IMPERSONATION_FORBIDDEN",
            403,
        )
    assert code_of(credentials, "POST", owner()) is None  # the member's own session may
    # Every identity route that changes credentials is session_only, so the rule covers them.
    for name in ("SetupTwoFactor", "DisableTwoFactor", "CreateApiToken"):
        method = f"/plixa.identity.v1.{'ApiTokens' if 'Api' in name else 'TwoFactor'}/{name}"
        rule = method_access(method).rule
        assert rule is not None and code_of(rule, "POST", acting) == "IMPERSONATION_FORBIDDEN"


def test_identity_declares_its_credential_routes_session_only() -> None:
    session_only = {
        "ApiTokens": {"CreateApiToken", "RevokeApiToken"},
        "TwoFactor": {
            "SetupTwoFactor",
            "ConfirmTwoFactor",
            "RegenerateRecoveryCodes",
            "RevokeRecoveryCode",
            "DisableTwoFactor",
        },
        "Security": {"UpdateSecurityConfig"},
        "Team": {"CreateInvitation", "ResendInvitation", "CancelInvitation", "RemoveMember"},
        "Account": {"RequestAccountDeletion", "CancelAccountDeletion"},
    }
    for service, methods in session_only.items():
        for name in methods:
            rule = method_access(f"/plixa.identity.v1.{service}/{name}").rule
            assert rule is not None and rule.session_only, (service, name)
    listing = method_access("/plixa.identity.v1.ApiTokens/ListApiTokens").rule
    assert listing is not None and listing.owner_only and not listing.feature
    creating = method_access("/plixa.identity.v1.ApiTokens/CreateApiToken").rule
    assert creating is not None and creating.feature == "api_access"


def test_the_challenge_route_is_the_only_one_a_pending_sign_in_opens() -> None:
    challenge = options_pb2.Route(post="/v1/auth/2fa-challenge", two_factor_challenge=True)
    pending = owner(two_factor_pending=True, abilities=[])
    assert code_of(challenge, "POST", pending) is None
    assert code_of(challenge, "POST", owner()) == "FORBIDDEN"
    assert code_of(MEMBER, "GET", pending) == "TWO_FACTOR_CHALLENGE_REQUIRED"


def test_staff_and_public_routes() -> None:
    staff_rule = options_pb2.Route(get="/v1/admin/me", access=options_pb2.ACCESS_STAFF)
    staff = Principal(kind=Principal.KIND_STAFF, staff_id=1, two_factor_enabled=True)
    assert code_of(staff_rule, "GET", staff) is None
    assert code_of(staff_rule, "GET", owner()) == "FORBIDDEN"
    assert code_of(staff_rule, "GET", None) == "UNAUTHENTICATED"
    public = options_pb2.Route(post="/v1/auth/login", access=options_pb2.ACCESS_PUBLIC)
    assert code_of(public, "POST", None) is None


def test_staff_need_their_second_factor() -> None:
    """Two-factor is mandatory for staff: without it only the enrolment routes open; a challenge
    token opens only the challenge."""
    staff_rule = options_pb2.Route(get="/v1/admin/me", access=options_pb2.ACCESS_STAFF)
    enrolment = options_pb2.Route(
        post="/v1/admin/2fa/setup", access=options_pb2.ACCESS_STAFF, allowed_without_two_factor=True
    )
    challenge = options_pb2.Route(
        post="/v1/admin/auth/2fa-challenge",
        access=options_pb2.ACCESS_STAFF,
        two_factor_challenge=True,
    )
    enrolling = Principal(kind=Principal.KIND_STAFF, staff_id=1)
    assert code_of(staff_rule, "GET", enrolling) == "TWO_FACTOR_REQUIRED"
    assert code_of(enrolment, "POST", enrolling) is None
    assert code_of(challenge, "POST", enrolling) == "FORBIDDEN"
    pending = Principal(kind=Principal.KIND_STAFF, staff_id=1, two_factor_pending=True)
    assert code_of(staff_rule, "GET", pending) == "TWO_FACTOR_CHALLENGE_REQUIRED"
    assert code_of(enrolment, "POST", pending) == "TWO_FACTOR_CHALLENGE_REQUIRED"
    assert code_of(challenge, "POST", pending) is None
    enrolled = Principal(kind=Principal.KIND_STAFF, staff_id=1, two_factor_enabled=True)
    assert code_of(challenge, "POST", enrolled) == "FORBIDDEN"


def test_rules_are_read_from_the_generated_descriptors() -> None:
    me = method_access("/plixa.identity.v1.Identity/GetMe")
    assert (me.verb, me.internal, me.rule is not None) == ("GET", False, True)
    tokens = method_access("/plixa.identity.v1.ApiTokens/CreateApiToken")
    assert tokens.rule is not None and tokens.rule.owner_only and tokens.verb == "POST"
    refused = tokens.refusal(owner(role="agent"))
    assert refused is not None and refused.grpc_status == grpc.StatusCode.PERMISSION_DENIED
    internal = method_access("/plixa.identity.v1.IdentityInternal/AuthenticateToken")
    assert internal.internal
    assert internal.refusal(Principal(kind=Principal.KIND_SERVICE, service="gateway")) is None
    user_refused = internal.refusal(owner())
    assert user_refused is not None and user_refused.code == "SERVICE_ONLY"
    assert method_access("/grpc.health.v1.Health/Check").refusal(Principal()) is None


def test_an_undeclared_or_unknown_rpc_is_refused_to_everyone() -> None:
    unknown = method_access("/plixa.identity.v1.Identity/NoSuchMethod")
    assert not unknown.declared
    for principal in (owner(), Principal(kind=Principal.KIND_SERVICE), Principal()):
        refused = unknown.refusal(principal)
        assert refused is not None and refused.code == "ACCESS_UNDECLARED"


def test_every_rpc_of_the_contract_declares_its_access() -> None:
    undeclared = [
        f"/{service.full_name}/{method.name}"
        for file in CONTRACT
        for service in file.services_by_name.values()
        for method in service.methods
        if not method_access(f"/{service.full_name}/{method.name}").declared
    ]
    assert undeclared == []


async def test_servicers_register_through_their_generated_base() -> None:
    server = grpc.aio.server()
    register_servicer(server, identity_pb2_grpc.IdentityServicer())
    register_servicer(server, health_pb2_grpc.HealthServicer())
    with pytest.raises(TypeError):
        register_servicer(server, object())


# ── the verification cache ──────────────────────────────────────────────────────────────────


def test_the_cache_returns_the_verified_principal_and_rechecks_its_age() -> None:
    verifier = PrincipalVerifier(SECRET, max_entries=2)
    metadata = dict(sign(owner(), SECRET, M, R))
    first = verifier.verify(metadata, M, R)
    assert verifier.verify(metadata, M, R) is first  # a hit: no second HMAC or parse
    with pytest.raises(DomainError) as expired:
        verifier.verify(metadata, M, R, now=time.time() + 120)
    assert expired.value.code == "INVALID_PRINCIPAL"


def test_the_cache_never_admits_what_verification_refuses() -> None:
    verifier = PrincipalVerifier(SECRET)
    forged = dict(sign(owner(), b"another-secret", M, R))
    for _ in range(2):
        with pytest.raises(DomainError):
            verifier.verify(forged, M, R)
    signed = dict(sign(owner(role="agent"), SECRET, M, R))
    verifier.verify(signed, M, R)
    tampered = dict(signed)
    tampered[PRINCIPAL_METADATA_KEY] = owner().SerializeToString(deterministic=True)
    with pytest.raises(DomainError):
        verifier.verify(tampered, M, R)


def test_the_cache_is_bounded() -> None:
    verifier = PrincipalVerifier(SECRET, max_entries=2)
    for user_id in range(5):
        verifier.verify(dict(sign(owner(user_id=user_id + 1), SECRET, M, R)), M, R)
    assert len(verifier._verified) == 2
