"""Pure rules of the inbox catalogue (contacts, labels, custom fields, saved replies, sectors):
no I/O, so they are tested on their own."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.kit.validation import Checker

# Digits with the country code, as WhatsApp names a customer (E.164 allows 15; WhatsApp's own
# ids for some accounts run longer, so up to 20 are kept).
PHONE_MIN_DIGITS = 8
PHONE_MAX_DIGITS = 20
PHONE_DECORATION = re.compile(r"[\s\-.()/]")
COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
FIELD_VALUE_MAX_LEN = 1000
MAX_FIELD_VALUES = 200


def normalise_phone(check: Checker, field: str, raw: str) -> str:
    """The phone as stored: digits only, without the decoration people type (spaces, dashes,
    dots, brackets) nor a leading + or 00. Anything else is a field error."""
    value = PHONE_DECORATION.sub("", raw.strip())
    if value.startswith("+"):
        value = value[1:]
    elif value.startswith("00"):
        value = value[2:]
    if not value:
        check.fail(field, f"The {field} field is required.", "required")
        return value
    if not value.isascii() or not value.isdigit():
        check.fail(field, f"The {field} must be a phone number (digits).", "phone")
    elif not PHONE_MIN_DIGITS <= len(value) <= PHONE_MAX_DIGITS:
        check.fail(
            field,
            f"The {field} must have {PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} digits, "
            "with the country code.",
            "phone",
        )
    return value


def optional_text(check: Checker, field: str, value: str | None, *, max_len: int) -> str | None:
    """Trimmed text, or None for null and blank (a field that may be cleared)."""
    if value is None:
        return None
    value = check.text(field, value, required=False, max_len=max_len)
    return value or None


def color(check: Checker, field: str, value: str | None) -> str | None:
    """A "#RRGGBB" colour in lower case; null and blank mean the panel's default."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not COLOR_PATTERN.match(value):
        check.fail(field, f"The {field} must be a colour like #1f9d55.", "color")
    return value.lower()


def reordered(current: Sequence[int], requested: Iterable[int]) -> list[int]:
    """The new display order of a list after a reorder request.

    `current` is every id of the workspace's list in its present order; `requested` the ids the
    caller put in the order they want. Requested ids that are not in the list (another
    workspace's, unknown) are dropped, and repeats count once. The requested ids take the slots
    they occupy now, in the requested order; every id not requested keeps its slot, so a partial
    drag (3 of 30) leaves the rest where they were."""
    present = set(current)
    wanted: list[int] = []
    seen: set[int] = set()
    for item in requested:
        if item in present and item not in seen:
            seen.add(item)
            wanted.append(item)
    moving = iter(wanted)
    return [next(moving) if item in seen else item for item in current]


def field_values(
    check: Checker, values: Mapping[str, Any], field: str = "values"
) -> dict[int, str | None]:
    """The custom-field values a PUT asks for, by definition id: text (trimmed) sets a value,
    null and "" clear it. Keys that are not ids cannot name a definition, so they are skipped like
    unknown ids; a value that is neither text nor null is a field error."""
    if len(values) > MAX_FIELD_VALUES:
        check.fail(field, f"At most {MAX_FIELD_VALUES} values may be sent at once.", "too_many")
        return {}
    asked: dict[int, str | None] = {}
    for key, value in values.items():
        path = f"{field}.{key}"
        definition_id = _id_of(key)
        if value is not None and not isinstance(value, str):
            check.fail(path, f"The {path} must be text or null.", "string")
            continue
        if definition_id is None:
            continue
        text = value.strip() if value is not None else ""
        if "\x00" in text:  # PostgreSQL text cannot hold NUL (a Struct skips the gateway's check)
            check.fail(path, f"The {path} may not contain NUL characters.", "string")
            continue
        if len(text) > FIELD_VALUE_MAX_LEN:
            check.fail(
                path,
                f"The {path} may not be longer than {FIELD_VALUE_MAX_LEN} characters.",
                "too_long",
            )
            continue
        asked[definition_id] = text or None
    return asked


def _id_of(key: str) -> int | None:
    key = key.strip()
    if not key.isascii() or not key.isdigit() or len(key) > 18:
        return None
    number = int(key)
    return number if number > 0 else None
