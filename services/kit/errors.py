"""Domain errors and their wire form. Services raise these; one interceptor turns them into a
gRPC status plus `plixa-error-bin` trailing metadata; the gateway turns that into the envelope."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import grpc

from plixa.common.v1 import errors_pb2

ERROR_METADATA_KEY = "plixa-error-bin"


@dataclass
class FieldProblem:
    field: str
    message: str
    code: str = "invalid"


@dataclass
class DomainError(Exception):
    """A failure a caller should see: a stable code, an HTTP status and, for input, the field."""

    code: str
    message: str
    http_status: int = 400
    grpc_status: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION
    fields: list[FieldProblem] = field(default_factory=list)
    retry_after_seconds: int = 0

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def to_detail(self) -> errors_pb2.ErrorDetail:
        return errors_pb2.ErrorDetail(
            code=self.code,
            message=self.message,
            http_status=self.http_status,
            retry_after_seconds=self.retry_after_seconds,
            fields=[
                errors_pb2.FieldError(field=f.field, code=f.code, message=f.message)
                for f in self.fields
            ],
        )


def validation_failed(problems: Iterable[FieldProblem]) -> DomainError:
    problems = list(problems)
    first = problems[0].message if problems else "The given data was invalid."
    return DomainError(
        "VALIDATION_FAILED",
        first,
        422,
        grpc.StatusCode.INVALID_ARGUMENT,
        fields=problems,
    )


def invalid(field_name: str, message: str, code: str = "invalid") -> DomainError:
    return validation_failed([FieldProblem(field_name, message, code)])


def not_found(what: str = "Resource") -> DomainError:
    return DomainError("NOT_FOUND", f"{what} not found.", 404, grpc.StatusCode.NOT_FOUND)


def conflict(code: str, message: str, field_name: str | None = None) -> DomainError:
    fields = [FieldProblem(field_name, message, code.lower())] if field_name else []
    return DomainError(code, message, 409, grpc.StatusCode.ALREADY_EXISTS, fields=fields)


def forbidden(code: str = "FORBIDDEN", message: str = "You may not do this.") -> DomainError:
    return DomainError(code, message, 403, grpc.StatusCode.PERMISSION_DENIED)


def unauthenticated(
    code: str = "UNAUTHENTICATED", message: str = "Authentication required."
) -> DomainError:
    return DomainError(code, message, 401, grpc.StatusCode.UNAUTHENTICATED)


def rate_limited(retry_after_seconds: int, message: str = "Too many attempts.") -> DomainError:
    return DomainError(
        "RATE_LIMITED",
        message,
        429,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        retry_after_seconds=max(1, retry_after_seconds),
    )


# grpc-gateway/Envoy's table, used when a service gave no HTTP status of its own.
GRPC_TO_HTTP: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "BAD_REQUEST"),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "FAILED_PRECONDITION"),
    grpc.StatusCode.OUT_OF_RANGE: (400, "BAD_REQUEST"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "UNAUTHENTICATED"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "FORBIDDEN"),
    grpc.StatusCode.NOT_FOUND: (404, "NOT_FOUND"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "CONFLICT"),
    grpc.StatusCode.ABORTED: (409, "CONFLICT"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "RATE_LIMITED"),
    grpc.StatusCode.CANCELLED: (499, "CANCELLED"),
    grpc.StatusCode.UNAVAILABLE: (503, "SERVICE_UNAVAILABLE"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "GATEWAY_TIMEOUT"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "NOT_IMPLEMENTED"),
}


def detail_from_status(
    code: grpc.StatusCode,
    details: str | None,
    trailing: Iterable[tuple[str, str | bytes]] | None,
) -> errors_pb2.ErrorDetail:
    """Rebuild what the service said from a failed call; the service's own status and code win."""
    for key, value in trailing or ():
        if key == ERROR_METADATA_KEY and isinstance(value, bytes):
            detail = errors_pb2.ErrorDetail.FromString(value)
            if detail.http_status:
                return detail
    http_status, name = GRPC_TO_HTTP.get(code, (500, "INTERNAL"))
    # The status text of a call that failed outside our error helper may be anything (library
    # internals, addresses): it is never shown to the client.
    message = {
        503: "The service is unavailable. Try again shortly.",
        504: "The service took too long to answer.",
        500: "Something went wrong on our side.",
    }.get(http_status, name.replace("_", " ").capitalize() + ".")
    return errors_pb2.ErrorDetail(
        code=name,
        message=message,
        http_status=http_status,
        retry_after_seconds=5 if http_status == 503 else 0,
    )
