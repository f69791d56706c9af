"""The wire form of errors and the status table the gateway falls back to."""

from __future__ import annotations

import grpc

from services.kit.errors import ERROR_METADATA_KEY, detail_from_status, invalid, rate_limited


def test_a_domain_error_survives_the_trailer() -> None:
    error = invalid("email", "The email has already been taken.", "taken")
    trailer = [(ERROR_METADATA_KEY, error.to_detail().SerializeToString())]
    detail = detail_from_status(grpc.StatusCode.INVALID_ARGUMENT, "ignored", trailer)
    assert (detail.code, detail.http_status) == ("VALIDATION_FAILED", 422)
    assert [(f.field, f.code) for f in detail.fields] == [("email", "taken")]


def test_rate_limited_carries_retry_after() -> None:
    detail = rate_limited(0).to_detail()
    assert (detail.http_status, detail.retry_after_seconds) == (429, 1)


def test_statuses_without_our_detail_use_the_gateway_table() -> None:
    expected = {
        grpc.StatusCode.UNAVAILABLE: (503, "SERVICE_UNAVAILABLE"),
        grpc.StatusCode.DEADLINE_EXCEEDED: (504, "GATEWAY_TIMEOUT"),
        grpc.StatusCode.NOT_FOUND: (404, "NOT_FOUND"),
        grpc.StatusCode.PERMISSION_DENIED: (403, "FORBIDDEN"),
        grpc.StatusCode.UNIMPLEMENTED: (501, "NOT_IMPLEMENTED"),
        grpc.StatusCode.INTERNAL: (500, "INTERNAL"),
        grpc.StatusCode.UNKNOWN: (500, "INTERNAL"),
    }
    for status, (http, code) in expected.items():
        detail = detail_from_status(status, "Traceback: secret internals", ())
        assert (detail.http_status, detail.code) == (http, code)
        assert "Traceback" not in detail.message
    assert detail_from_status(grpc.StatusCode.UNAVAILABLE, "", ()).retry_after_seconds == 5
