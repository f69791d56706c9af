"""Request constraints declared once in proto (`(plixa.common.v1.field)`), used twice: the gateway
refuses a request that breaks them (422 VALIDATION_FAILED naming each field, before any call) and
the OpenAPI document shows them as JSON Schema keywords.

The rules are the kit's own (services/kit/validation.py): text is trimmed before it is measured
or matched, country and currency codes are compared in upper case. Services keep their checks;
these only refuse earlier, and never what a service would accept by the same declaration."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from gateway.errors import GatewayError
from gateway.transcode import message_type
from plixa.common.v1 import errors_pb2, options_pb2
from plixa.common.v1.options_pb2 import FieldRule as Rule
from services.kit.validation import (
    EMAIL_PATTERN,
    ISO_COUNTRIES,
    ISO_CURRENCIES,
    LOCALE_PATTERN,
    iana_timezones,
)

F = FieldDescriptor
NUMBER_TYPES = frozenset(
    {
        F.TYPE_INT32,
        F.TYPE_INT64,
        F.TYPE_UINT32,
        F.TYPE_UINT64,
        F.TYPE_SINT32,
        F.TYPE_SINT64,
        F.TYPE_FIXED32,
        F.TYPE_FIXED64,
        F.TYPE_SFIXED32,
        F.TYPE_SFIXED64,
        F.TYPE_DOUBLE,
        F.TYPE_FLOAT,
    }
)


def _whitespace_class() -> str:
    """What str.strip() removes, as a regex class: the document says exactly what is trimmed."""
    spaces = [n for n in range(sys.maxunicode + 1) if chr(n).isspace()]
    ranges: list[list[int]] = []
    for n in spaces:
        if ranges and ranges[-1][1] == n - 1:
            ranges[-1][1] = n
        else:
            ranges.append([n, n])
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


WHITESPACE = _whitespace_class()


def not_blank_pattern(min_len: int) -> str:
    """Unanchored: some run of at least `min_len` characters starts and ends with a non-space,
    which is exactly "at least `min_len` characters once trimmed"."""
    if min_len <= 1:
        return f"[^{WHITESPACE}]"
    return f"[^{WHITESPACE}][\\s\\S]{{{min_len - 2},}}[^{WHITESPACE}]"


FORMATS: dict[int, tuple[str, Callable[[str], bool]]] = {
    options_pb2.FORMAT_EMAIL: (
        "must be a valid email address",
        lambda v: bool(EMAIL_PATTERN.match(v)),
    ),
    options_pb2.FORMAT_TIME_ZONE: (
        "must be an IANA time zone, e.g. Europe/Lisbon",
        lambda v: v in iana_timezones(),
    ),
    options_pb2.FORMAT_COUNTRY: (
        "must be an ISO 3166-1 alpha-2 country code",
        lambda v: v.upper() in ISO_COUNTRIES,
    ),
    options_pb2.FORMAT_CURRENCY: (
        "must be an ISO 4217 code such as BRL or EUR",
        lambda v: v.upper() in ISO_CURRENCIES,
    ),
    options_pb2.FORMAT_LOCALE: (
        "must be a language tag such as pt or pt-BR",
        lambda v: bool(LOCALE_PATTERN.match(v)),
    ),
}


def rule_of(field: FieldDescriptor) -> Rule | None:
    options = field.GetOptions()
    if not options.HasExtension(options_pb2.field):
        return None
    return options.Extensions[options_pb2.field]


Problems = list[tuple[str, str]]


def _check_value(field: FieldDescriptor, rule: Rule, value: Any, path: str, out: Problems) -> None:
    """One set value (a scalar, or one item of a list)."""
    if field.type == F.TYPE_STRING:
        if rule.one_of and value not in rule.one_of:
            out.append((path, f"The {path} must be one of: {', '.join(rule.one_of)}."))
            return
        text = value if rule.untrimmed else value.strip()
        if not field.is_repeated:
            if rule.required and not text:
                out.append((path, f"The {path} field is required."))
                return
            if len(text) < rule.min_len:
                if rule.min_len == 1:
                    out.append((path, f"The {path} may not be blank."))
                else:
                    out.append((path, f"The {path} must be at least {rule.min_len} characters."))
                return
            if rule.max_len and len(text) > rule.max_len:
                out.append((path, f"The {path} may not be longer than {rule.max_len} characters."))
                return
        if rule.format:
            message, valid = FORMATS[rule.format]
            if not valid(text):
                out.append((path, f"The {path} {message}."))
    elif field.type == F.TYPE_BYTES and not field.is_repeated:
        if len(value) < rule.min_len:
            out.append((path, f"The {path} must be at least {rule.min_len} bytes."))
        elif rule.max_len and len(value) > rule.max_len:
            out.append((path, f"The {path} may not be larger than {rule.max_len} bytes."))
    elif field.type in NUMBER_TYPES:
        if rule.HasField("minimum") and value < rule.minimum:
            out.append((path, f"The {path} must be at least {rule.minimum}."))
        elif rule.HasField("maximum") and value > rule.maximum:
            out.append((path, f"The {path} may not be greater than {rule.maximum}."))


def _check_field(message: Message, field: FieldDescriptor, rule: Rule, out: Problems) -> None:
    name = field.name
    value = getattr(message, name)
    if field.is_repeated:
        if not value:
            if rule.required:
                out.append((name, f"The {name} field is required."))
            return
        if rule.min_len and len(value) < rule.min_len:
            out.append((name, f"The {name} must have at least {rule.min_len} items."))
        elif rule.max_len and len(value) > rule.max_len:
            out.append((name, f"The {name} may not have more than {rule.max_len} items."))
        for item in value:  # named by the list, as the services name it
            before = len(out)
            _check_value(field, rule, item, name, out)
            if len(out) > before:
                break
        return
    present = message.HasField(name) if field.has_presence else value != field.default_value
    if not present:
        if rule.required:
            out.append((name, f"The {name} field is required."))
        return
    if field.message_type is None:
        _check_value(field, rule, value, name, out)


Check = Callable[[Message, Problems], None]
_checks: dict[str, Check | None] = {}


def _build(descriptor: Descriptor) -> Check | None:
    """The checks of one message type, or None when it declares none (the common case)."""
    fields: list[tuple[FieldDescriptor, Rule]] = []
    nested: list[FieldDescriptor] = []
    for field in descriptor.fields:
        rule = rule_of(field)
        if rule is not None:
            fields.append((field, rule))
        inner = field.message_type
        if (
            inner is not None
            and not inner.GetOptions().map_entry
            and inner.full_name != descriptor.full_name
            and checks_for(inner)
        ):
            nested.append(field)
    if not fields and not nested:
        return None

    def check(message: Message, out: Problems) -> None:
        for field, rule in fields:
            _check_field(message, field, rule, out)
        for field in nested:
            inner = checks_for(message_type(field))
            if inner is None:
                continue
            items = getattr(message, field.name) if field.is_repeated else None
            if items is not None:
                for item in items:
                    inner(item, out)
            elif message.HasField(field.name):
                inner(getattr(message, field.name), out)

    return check


def checks_for(descriptor: Descriptor) -> Check | None:
    name = descriptor.full_name
    if name not in _checks:
        _checks[name] = None  # against recursion while building
        _checks[name] = _build(descriptor)
    return _checks[name]


def validate(message: Message) -> None:
    """Refuses a request message that breaks its declared constraints, naming every field."""
    check = checks_for(message.DESCRIPTOR)  # type: ignore[arg-type]
    if check is None:
        return
    problems: Problems = []
    check(message, problems)
    if problems:
        error = GatewayError(422, "VALIDATION_FAILED", problems[0][1])
        error.detail.fields.extend(
            errors_pb2.FieldError(field=field, code="invalid", message=text)
            for field, text in problems
        )
        raise error


# ── the document ─────────────────────────────────────────────────────────────────────────────


def _patterns(schema: dict[str, Any], patterns: list[str]) -> None:
    if len(patterns) == 1:
        schema["pattern"] = patterns[0]
    elif patterns:
        schema["allOf"] = [{"pattern": p} for p in patterns]


# Formats that are closed lists, shared by every operation through components/schemas.
LISTED_FORMATS = {
    options_pb2.FORMAT_TIME_ZONE: "TimeZone",
    options_pb2.FORMAT_COUNTRY: "CountryCode",
    options_pb2.FORMAT_CURRENCY: "CurrencyCode",
}


def enum_names(values: list[str]) -> list[str]:
    """Identifiers for generated SDKs (`x-enum-varnames`): `Etc/GMT+1` and `Etc/GMT-1` must not
    both become ETC_GMT1."""
    names: list[str] = []
    for value in values:
        spelled = value.replace("+", "_PLUS_").replace("-", "_MINUS_")
        name = re.sub(r"[^A-Za-z0-9]+", "_", spelled).strip("_").upper() or "EMPTY"
        while name in names:
            name += "_"
        names.append(name)
    return names


def listed_format_schemas() -> dict[str, Any]:
    zones = sorted(iana_timezones())
    return {
        "TimeZone": {
            "type": "string",
            "description": "An IANA time zone name.",
            "enum": zones,
            "x-enum-varnames": enum_names(zones),
        },
        "CountryCode": {
            "type": "string",
            "description": "ISO 3166-1 alpha-2.",
            "enum": sorted(ISO_COUNTRIES),
        },
        "CurrencyCode": {
            "type": "string",
            "description": "ISO 4217.",
            "enum": sorted(ISO_CURRENCIES),
        },
    }


def item_keywords(field: FieldDescriptor, rule: Rule) -> dict[str, Any]:
    """JSON Schema keywords of one value of the field (the items of a list)."""
    keywords: dict[str, Any] = {}
    patterns: list[str] = []
    if field.type == F.TYPE_STRING:
        if rule.one_of:
            keywords["enum"] = list(rule.one_of)
        if not field.is_repeated:
            least = max(rule.min_len, 1 if rule.required else 0)
            if least:
                keywords["minLength"] = least
                if not rule.untrimmed:
                    patterns.append(not_blank_pattern(least))
            if rule.max_len:
                keywords["maxLength"] = rule.max_len
        if rule.format == options_pb2.FORMAT_EMAIL:
            keywords["format"] = "email"
            patterns.append(EMAIL_PATTERN.pattern)
        elif rule.format == options_pb2.FORMAT_LOCALE:
            patterns.append(LOCALE_PATTERN.pattern)
        elif rule.format in LISTED_FORMATS:
            keywords["$ref"] = f"#/components/schemas/{LISTED_FORMATS[rule.format]}"
        if "enum" in keywords or "$ref" in keywords:  # the list says it all
            keywords.pop("minLength", None)
            keywords.pop("maxLength", None)
            patterns = []
    elif field.type == F.TYPE_BYTES and not field.is_repeated:
        least = max(rule.min_len, 1 if rule.required else 0)
        if least:
            keywords["minLength"] = 1  # base64 of at least one byte, or one byte of a file
        if rule.max_len:
            keywords["description"] = f"At most {rule.max_len} bytes."
    elif field.type in NUMBER_TYPES:
        if rule.HasField("minimum"):
            keywords["minimum"] = rule.minimum
        if rule.HasField("maximum"):
            keywords["maximum"] = rule.maximum
    _patterns(keywords, patterns)
    return keywords


def list_keywords(rule: Rule) -> dict[str, Any]:
    keywords: dict[str, Any] = {}
    least = max(rule.min_len, 1 if rule.required else 0)
    if least:
        keywords["minItems"] = least
    if rule.max_len:
        keywords["maxItems"] = rule.max_len
    return keywords


def is_required(field: FieldDescriptor) -> bool:
    rule = rule_of(field)
    return bool(rule and rule.required)
