"""Failures the gateway answers itself, and the envelope every failure is rendered in."""

from __future__ import annotations

from plixa.common.v1 import errors_pb2


class GatewayError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = errors_pb2.ErrorDetail(code=code, message=message, http_status=status)
        if field is not None:
            self.detail.fields.add(field=field, code="invalid", message=message)
        self.headers = headers or {}

    @classmethod
    def from_detail(cls, detail: errors_pb2.ErrorDetail) -> GatewayError:
        error = cls(detail.http_status or 500, detail.code, detail.message)
        error.detail = detail
        if detail.retry_after_seconds:
            error.headers["Retry-After"] = str(detail.retry_after_seconds)
        return error


def invalid_input(field: str | None, message: str) -> GatewayError:
    return GatewayError(422, "VALIDATION_FAILED", message, field=field)


def error_items(detail: errors_pb2.ErrorDetail) -> list[dict[str, str]]:
    """One item per field problem (each naming its field), or one item for the whole failure."""
    if detail.fields:
        return [
            {
                "code": detail.code,
                "message": problem.message or detail.message,
                "field": problem.field,
            }
            for problem in detail.fields
        ]
    return [{"code": detail.code, "message": detail.message}]
