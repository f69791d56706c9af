"""Cursor (keyset) paging for every list: a page costs the same on page 1 and page 1,000, and
items added or removed meanwhile never make the walk repeat or skip the others.

A list declares its order once as a `Keyset` (a unique id column, optionally after a NOT NULL sort
column, ascending or descending); `paginate` runs any tenant-scoped Select in that order from a
`PageQuery` and returns a `Page`. The cursor names the last item's (sort key, id), is signed with
a key derived from the internal secret and bound to its list, and carries no authority: the
query's tenant scope applies whoever made the cursor.

A list, end to end:
    proto     message ListLabelsRequest { plixa.common.v1.PageRequest page = 1; }
              message ListLabelsResponse {
                repeated Label items = 1; plixa.common.v1.PageMeta meta = 2; }
              route option: get: "/v1/labels" response_body: "items"
    store     LABELS_ORDER = Keyset("inbox.labels", id=labels.c.id, sort=labels.c.name)
              rows = await paginate(uow.conn, uow.scope.select(labels), LABELS_ORDER, page)
              return rows.map(_label)
    servicer  page = await labels.list_page(uow, PageQuery.from_proto(request.page))
              return ListLabelsResponse(items=[to_proto(x) for x in page.items], meta=page.meta())
The gateway reads `?cursor=…&limit=…` into `page` and renders `meta` as the envelope's meta."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, ColumnElement, Row, Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from plixa.common.v1 import paging_pb2
from services.kit.config import internal_secret
from services.kit.errors import DomainError, invalid

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_CURSOR_CHARS = 1024  # a cursor holds one short key; anything longer is not ours
MAC_BYTES = 16

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class PageQuery:
    """The page a caller asked for, as sent (`paginate` validates it)."""

    cursor: str | None = None
    limit: int | None = None

    @classmethod
    def from_proto(cls, request: paging_pb2.PageRequest) -> PageQuery:
        return cls(
            cursor=request.cursor if request.HasField("cursor") else None,
            limit=request.limit if request.HasField("limit") else None,
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items and where the next page starts."""

    items: list[T]
    next_cursor: str | None
    has_more: bool
    limit: int

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        return Page(
            [convert(item) for item in self.items], self.next_cursor, self.has_more, self.limit
        )

    def meta(self) -> paging_pb2.PageMeta:
        """The list response's `meta` field (the gateway renders it as the envelope's meta)."""
        return paging_pb2.PageMeta(
            next_cursor=self.next_cursor, has_more=self.has_more, limit=self.limit
        )


@dataclass(frozen=True)
class Keyset:
    """The order of one list. `name` binds cursors to it (a cursor of another list is refused);
    `id` must be unique within the list; `sort`, when given, must be NOT NULL."""

    name: str
    id: ColumnElement[Any]
    sort: ColumnElement[Any] | None = None
    descending: bool = False

    def __post_init__(self) -> None:
        for column in self.columns:
            if isinstance(column, Column) and column.nullable and not column.primary_key:
                raise ValueError(f"keyset column {column} may be NULL; page on NOT NULL columns")
            _value_type(column)  # refuses a type the cursor cannot carry, at import time

    @property
    def columns(self) -> tuple[ColumnElement[Any], ...]:
        return (self.id,) if self.sort is None else (self.sort, self.id)


def limit_of(page: PageQuery) -> int:
    """The page size: DEFAULT_LIMIT when not given; outside 1..MAX_LIMIT is a 422 on `limit`."""
    if page.limit is None:
        return DEFAULT_LIMIT
    if not 1 <= page.limit <= MAX_LIMIT:
        raise invalid("limit", f"The limit must be between 1 and {MAX_LIMIT}.", "between")
    return page.limit


async def paginate(
    conn: AsyncConnection, query: Select[Any], keyset: Keyset, page: PageQuery
) -> Page[Row[Any]]:
    """One page of `query` (its own ORDER BY is replaced by the keyset's). The key columns must
    be among the selected columns. Bad `limit` or `cursor` → VALIDATION_FAILED naming it."""
    limit = limit_of(page)
    after = decode_cursor(keyset, page.cursor) if page.cursor else None
    columns = keyset.columns
    if after is not None:
        position = tuple_(*columns)
        bound = tuple_(*(literal(v, c.type) for v, c in zip(after, columns, strict=True)))
        query = query.where(position < bound if keyset.descending else position > bound)
    order = [c.desc() if keyset.descending else c.asc() for c in columns]
    rows = list((await conn.execute(query.order_by(None).order_by(*order).limit(limit + 1))).all())
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more:
        last = rows[-1]._mapping
        next_cursor = encode_cursor(keyset, [last[c] for c in columns])
    return Page(rows, next_cursor, has_more, limit)


# ── the cursor: base64url(MAC ‖ JSON of the key values) ─────────────────────────────────────

_CODECS: dict[type, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    # python type of the column: (to JSON, from JSON; raises on a wrong type)
    int: (lambda v: v, lambda v: _checked(v, int)),
    str: (lambda v: v, lambda v: _checked(v, str)),
    bool: (lambda v: v, lambda v: _checked(v, bool)),
    datetime: (lambda v: v.isoformat(), lambda v: datetime.fromisoformat(_checked(v, str))),
    date: (lambda v: v.isoformat(), lambda v: date.fromisoformat(_checked(v, str))),
    uuid.UUID: (str, lambda v: uuid.UUID(_checked(v, str))),
}


def _checked(value: Any, kind: type) -> Any:
    if type(value) is not kind:  # strict: no bool for int, no int for str
        raise ValueError(f"expected {kind.__name__}")
    return value


def _value_type(column: ColumnElement[Any]) -> type:
    kind: type = column.type.python_type
    if kind not in _CODECS:
        raise TypeError(f"cannot page on {column} of type {kind.__name__}")
    return kind


@cache
def _cursor_key() -> bytes:
    # Read once per process; a key of its own, so a cursor never passes for another signed value.
    return hmac.new(internal_secret(), b"plixa-page-cursor-v1", hashlib.sha256).digest()


def _mac(keyset: Keyset, payload: bytes) -> bytes:
    signed = keyset.name.encode() + b"\x00" + payload
    return hmac.digest(_cursor_key(), signed, "sha256")[:MAC_BYTES]


def encode_cursor(keyset: Keyset, values: Sequence[Any]) -> str:
    """The opaque cursor that resumes `keyset`'s list after the item with these key values."""
    encoded = [_CODECS[_value_type(c)][0](v) for c, v in zip(keyset.columns, values, strict=True)]
    payload = json.dumps(encoded, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_mac(keyset, payload) + payload).rstrip(b"=").decode()


def decode_cursor(keyset: Keyset, cursor: str) -> tuple[Any, ...]:
    """The key values in a cursor of this list; anything else is a 422 on `cursor`."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        mac, payload = raw[:MAC_BYTES], raw[MAC_BYTES:]
        if not hmac.compare_digest(mac, _mac(keyset, payload)):
            raise ValueError("not signed for this list")
        encoded = json.loads(payload)
        if not isinstance(encoded, list) or len(encoded) != len(keyset.columns):
            raise ValueError("wrong shape")
        return tuple(
            _CODECS[_value_type(c)][1](v) for c, v in zip(keyset.columns, encoded, strict=True)
        )
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor() from None


def _bad_cursor() -> DomainError:
    return invalid(
        "cursor",
        "The cursor is not valid here: pass the next_cursor of this list's previous page.",
        "invalid",
    )
