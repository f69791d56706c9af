"""Raw-body routes (signed provider webhooks): the exact bytes and only the listed headers reach
the service. The first real users are billing's Stripe and inbox's Evolution webhooks, whose
end-to-end tests check the signature path; here the gateway's part is checked alone, on a
route declared in a test-only proto file added to the descriptor pool."""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from starlette.datastructures import Headers

from gateway import transcode
from gateway.discovery import RouteSpec
from gateway.openapi import _operation
from plixa.common.v1 import options_pb2, raw_request_pb2


def _raw_route() -> RouteSpec:
    pool = descriptor_pool.Default()
    try:
        file = pool.FindFileByName("rawtest/v1/raw.proto")
    except KeyError:
        proto = descriptor_pb2.FileDescriptorProto(
            name="rawtest/v1/raw.proto",
            package="rawtest.v1",
            syntax="proto3",
            dependency=["plixa/common/v1/raw_request.proto"],
        )
        request = proto.message_type.add(name="HookRequest")
        request.field.add(name="instance", number=1, type=9, label=1)
        request.field.add(
            name="raw", number=2, type=11, label=1, type_name=".plixa.common.v1.RawRequest"
        )
        proto.message_type.add(name="HookReply")
        service = proto.service.add(name="Hooks")
        service.method.add(
            name="Receive",
            input_type=".rawtest.v1.HookRequest",
            output_type=".rawtest.v1.HookReply",
        )
        pool.Add(proto)
        file = pool.FindFileByName("rawtest/v1/raw.proto")
    method = file.services_by_name["Hooks"].methods_by_name["Receive"]
    rule = options_pb2.Route(
        post="/v1/webhooks/test/{instance}",
        body="raw",
        access=options_pb2.ACCESS_PUBLIC,
        raw_headers=["stripe-signature", "apikey"],
    )
    return RouteSpec(
        verb="POST",
        template=rule.post,
        service="rawtest",
        full_method="/rawtest.v1.Hooks/Receive",
        method=method,
        rule=rule,
        request_class=message_factory.GetMessageClass(method.input_type),
        response_class=message_factory.GetMessageClass(method.output_type),
    )


def test_a_body_field_of_type_raw_request_marks_a_raw_route() -> None:
    assert _raw_route().raw_field == "raw"


def test_the_exact_bytes_and_only_the_listed_headers_are_passed_on() -> None:
    body = b'{"b": 1,  "a": [2]}\n'  # odd spacing kept: a signature covers these bytes
    raw = raw_request_pb2.RawRequest()
    headers = Headers(
        {
            "Content-Type": "application/json",
            "Stripe-Signature": "t=1,v1=abc",
            "Authorization": "Bearer secret",
            "Cookie": "c=1",
        }
    )
    transcode.fill_raw(raw, body, headers, _raw_route().rule)
    assert raw.body == body
    assert raw.content_type == "application/json"
    assert dict(raw.headers) == {"stripe-signature": "t=1,v1=abc"}


def test_the_document_shows_the_payload_and_the_signature_headers() -> None:
    operation = _operation(_raw_route(), {})
    headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
    assert headers[:2] == ["stripe-signature", "apikey"]
    assert "application/json" in operation["requestBody"]["content"]
    assert "raw" not in str(operation["requestBody"])
