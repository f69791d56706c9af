"""OpenAPI 3.1 for /v1, generated from the same descriptors as the route table."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from gateway import constraints
from gateway.discovery import RouteSpec
from gateway.routing import Template
from gateway.transcode import (
    FLOAT_TYPES,
    INT_RANGES,
    JSON_WKT,
    TIMESTAMP,
    enum_type,
    message_type,
    page_request_field,
    public_fields,
    route_accepts_files,
)
from plixa.common.v1 import options_pb2
from services.kit.access import API_ACCESS_ERROR, PANEL_SESSION_REQUIRED
from services.kit.paging import DEFAULT_LIMIT, MAX_LIMIT

F = FieldDescriptor
# What the gateway decodes (base64.b64decode with validate=True): the alphabet, padded.
BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
ERROR_ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


def _ref(descriptor: Descriptor) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{descriptor.full_name}"}


def _field_schema(field: FieldDescriptor, schemas: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any]
    if field.message_type is not None:
        name = message_type(field).full_name
        if name == TIMESTAMP:
            schema = {"type": "string", "format": "date-time"}
        elif name in JSON_WKT:
            schema = {}
        else:
            _collect(field.message_type, schemas)
            schema = _ref(field.message_type)
    elif field.type in INT_RANGES:
        wide = field.type in (
            F.TYPE_INT64,
            F.TYPE_UINT64,
            F.TYPE_SINT64,
            F.TYPE_FIXED64,
            F.TYPE_SFIXED64,
        )
        schema = {"type": "integer", "format": "int64" if wide else "int32"}
    elif field.type in FLOAT_TYPES:
        schema = {"type": "number"}
    elif field.type == F.TYPE_BOOL:
        schema = {"type": "boolean"}
    elif field.type == F.TYPE_BYTES:
        schema = {"type": "string", "contentEncoding": "base64", "pattern": BASE64}
    elif field.type == F.TYPE_ENUM:
        schema = {
            "type": "string",
            "enum": [v.name.lower() for v in enum_type(field).values],
        }
    else:
        schema = {"type": "string"}
    return schema


def _property(
    field: FieldDescriptor, schemas: dict[str, Any], *, request: bool = False, form: bool = False
) -> dict[str, Any]:
    """A field's schema; in a request, with its declared constraints (and files in a form)."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value = message_type(field).fields_by_name["value"]
        return {"type": "object", "additionalProperties": _field_schema(value, schemas)}
    schema = _field_schema(field, schemas)
    rule = constraints.rule_of(field) if request else None
    if form and field.type == F.TYPE_BYTES:
        schema = {"type": "string", "format": "binary"}
    if rule is not None:
        keywords = constraints.item_keywords(field, rule)
        schema = keywords if "$ref" in keywords else {**schema, **keywords}
    if field.is_repeated:
        items = {"type": "array", "items": schema}
        return {**items, **constraints.list_keywords(rule)} if rule is not None else items
    if field.has_presence and not (rule is not None and rule.required):
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


def _collect(descriptor: Descriptor, schemas: dict[str, Any]) -> None:
    if descriptor.full_name in schemas:
        return
    schemas[descriptor.full_name] = {}  # placeholder against recursion
    fields = public_fields(descriptor)
    schemas[descriptor.full_name] = {
        "type": "object",
        "properties": {f.name: _property(f, schemas) for f in fields},
        "required": [f.name for f in fields],
    }


def _body_schema(
    route: RouteSpec, path_vars: set[str], schemas: dict[str, Any], *, form: bool = False
) -> dict[str, Any]:
    fields = [f for f in public_fields(route.input) if f.name not in path_vars]
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {f.name: _property(f, schemas, request=True, form=form) for f in fields},
    }
    required = [f.name for f in fields if constraints.is_required(f)]
    if required:
        schema["required"] = required
    return schema


def _paging_parameters(field: FieldDescriptor, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """A list's `cursor` and `limit`, read from the query string at the top level."""
    paging = message_type(field).fields_by_name
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    return [
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "The `meta.next_cursor` of the previous page; omit for the first page.",
            "schema": _property(paging["cursor"], schemas),
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Items per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}).",
            "schema": limit,
        },
    ]


def _meta_schema(route: RouteSpec, schemas: dict[str, Any]) -> dict[str, Any]:
    """A list's paging (the response's `meta` field), else whatever the envelope carries."""
    field = route.method.output_type.fields_by_name.get("meta")
    if not route.rule.response_body or field is None or field.message_type is None:
        return {}
    _collect(field.message_type, schemas)
    return _ref(field.message_type)


def _operation(route: RouteSpec, schemas: dict[str, Any]) -> dict[str, Any]:
    rule = route.rule
    path_vars = set(Template.parse(route.template).variables)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in sorted(path_vars)
    ]
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": rule.summary or route.method.name,
        "tags": [route.service],
        "parameters": parameters,
    }
    if route.raw_field is not None:
        # A provider's signed payload, passed on byte for byte: the service verifies it.
        parameters.extend(
            {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
            for name in rule.raw_headers
        )
        payload = {"schema": {"type": "object", "description": "The provider's event, as sent."}}
        operation["requestBody"] = {"required": True, "content": {"application/json": payload}}
    elif rule.body:
        body = _body_schema(route, path_vars, schemas)
        content: dict[str, Any] = {"application/json": {"schema": body}}
        if route_accepts_files(route):
            form = _body_schema(route, path_vars, schemas, form=True)
            content["multipart/form-data"] = {"schema": form}
        operation["requestBody"] = {"required": True, "content": content}
    else:
        for field in public_fields(route.input):
            if field.name not in path_vars and field.message_type is None:
                parameters.append(
                    {
                        "name": field.name,
                        "in": "query",
                        "required": False,
                        "schema": _property(field, schemas, request=True),
                    }
                )
        paging = page_request_field(route.input)
        if paging is not None and paging.name not in path_vars:
            parameters.extend(_paging_parameters(paging, schemas))
    if route.verb == "POST":
        parameters.append(IDEMPOTENCY_PARAMETER)
    if rule.access == options_pb2.ACCESS_PUBLIC:
        operation["security"] = []
    status = str(rule.success_status or 200)
    if status == "204":
        operation["responses"] = {"204": {"description": "No content"}}
    elif route.method.server_streaming:  # server-sent events (gateway/streaming.py)
        _collect(route.method.output_type, schemas)
        events = {"schema": {"type": "string"}, "x-event-schema": _ref(route.method.output_type)}
        operation["responses"] = {
            status: {
                "description": "Server-sent events: one frame per event (id, event, data as JSON)",
                "content": {"text/event-stream": events},
            }
        }
        parameters.append(
            {
                "name": "ticket",
                "in": "query",
                "required": False,
                "description": "A stream ticket, instead of the Authorization header (EventSource)",
                "schema": {"type": "string"},
            }
        )
    elif route.method.output_type.full_name == "plixa.common.v1.HttpBody":
        binary = {"schema": {"type": "string", "format": "binary"}}
        operation["responses"] = {status: {"description": "The file", "content": {"*/*": binary}}}
    else:
        _collect(route.method.output_type, schemas)
        data: dict[str, Any] = _ref(route.method.output_type)
        if rule.response_body:
            field = route.method.output_type.fields_by_name[rule.response_body]
            data = _property(field, schemas)
        envelope = {
            "type": "object",
            "required": ["data", "meta", "errors"],
            "properties": {
                "data": data,
                "meta": _meta_schema(route, schemas),
                "errors": {"type": "null"},
            },
        }
        operation["responses"] = {
            status: {
                "description": "Success",
                "content": {"application/json": {"schema": envelope}},
            }
        }
    for status_code, codes in sorted(error_codes(route).items()):
        operation["responses"][str(status_code)] = _error_response(status_code, codes)
    operation["responses"]["default"] = {
        "description": "Error",
        "content": {"application/json": {"schema": ERROR_ENVELOPE}},
    }
    return operation


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retry safe: the first answer to this key is kept for 24 h and replayed byte for"
        " byte (with Idempotent-Replayed: true) to a retry of the same request; the key with"
        " another request is a 422, and while the first is still running a 409."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
ERROR_DESCRIPTIONS = {
    401: "Not signed in, or the token is invalid",
    403: "Signed in, but this route is refused to you",
    404: "Not found (or another workspace's)",
    409: "Conflicts with the current state",
    410: "Gone",
    413: "The body is too large",
    415: "The body's media type is not accepted here (multipart only where a file is taken)",
    422: "The input is invalid; each error names its field",
    429: "Too many requests; see Retry-After",
    503: "A service behind the gateway is unavailable; retry",
    504: "A service behind the gateway did not answer in time; retry",
}


def error_codes(route: RouteSpec) -> dict[int, set[str]]:
    """The failures a route can answer, by status: what the gateway derives from its policy and
    shape (the same checks gateway/policy.py and the request path make), plus what the route
    declares its service raises."""
    rule = route.rule
    codes: dict[int, set[str]] = {}

    def add(status: int, code: str) -> None:
        codes.setdefault(status, set()).add(code)

    if rule.access != options_pb2.ACCESS_PUBLIC:
        add(401, "UNAUTHENTICATED")
        add(403, "FORBIDDEN")  # a staff token on a member route, or the other way round
    if rule.access == options_pb2.ACCESS_AUTHENTICATED:
        if rule.two_factor_challenge:
            pass  # only the challenge token opens it; any other is FORBIDDEN
        else:
            add(401, "TWO_FACTOR_CHALLENGE_REQUIRED")
            add(403, "TOKEN_ABILITY_REQUIRED")
            if not rule.allowed_when_suspended:
                add(403, "TENANT_SUSPENDED")
            if not rule.allowed_without_two_factor:
                add(403, "TWO_FACTOR_REQUIRED")
            if rule.feature:
                add(403, rule.feature_error or "PLAN_FEATURE_REQUIRED")
            add(403, API_ACCESS_ERROR)  # an API token of a plan without API access, anywhere
            if rule.session_only:
                add(403, PANEL_SESSION_REQUIRED)  # an API token on a panel-session route
    if Template.parse(route.template).variables:
        add(404, "NOT_FOUND")  # an id that names nothing (or another workspace's object)
    if rule.body:
        add(413, "PAYLOAD_TOO_LARGE")
        add(422, "VALIDATION_FAILED")
        if not route_accepts_files(route):
            add(415, "UNSUPPORTED_MEDIA_TYPE")
    elif any(constraints.rule_of(f) for f in route.input.fields):
        add(422, "VALIDATION_FAILED")
    if route.verb == "POST":  # Idempotency-Key
        add(409, "IDEMPOTENCY_KEY_IN_USE")
        add(422, "IDEMPOTENCY_KEY_REUSED")
        add(422, "VALIDATION_FAILED")
        add(503, "IDEMPOTENCY_UNAVAILABLE")
    add(429, "RATE_LIMITED")
    add(503, "SERVICE_UNAVAILABLE")
    add(504, "GATEWAY_TIMEOUT")
    for declared in rule.errors:
        add(declared.status, declared.code)
    return codes


def _error_response(status: int, codes: set[str]) -> dict[str, Any]:
    schema = {
        "allOf": [
            ERROR_ENVELOPE,
            {
                "type": "object",
                "properties": {
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"code": {"type": "string", "enum": sorted(codes)}},
                        },
                    }
                },
            },
        ]
    }
    headers = {}
    if status in (429, 503):
        headers["Retry-After"] = {
            "description": "Seconds to wait before retrying",
            "schema": {"type": "integer"},
        }
    response: dict[str, Any] = {
        "description": f"{ERROR_DESCRIPTIONS.get(status, 'Error')}: {', '.join(sorted(codes))}",
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    return response


def build_openapi(routes: list[RouteSpec]) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        **constraints.listed_format_schemas(),
        "ErrorEnvelope": {
            "type": "object",
            "required": ["data", "meta", "errors"],
            "properties": {
                "data": {"type": "null"},
                "meta": {"type": "null"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "field": {"type": "string"},
                        },
                    },
                },
            },
        },
    }
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(routes, key=lambda r: (r.template, r.verb)):
        paths.setdefault(route.template, {})[route.verb.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Plixa API",
            "version": "1.0.0",
            "description": "WhatsApp customer service for small and medium businesses.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
