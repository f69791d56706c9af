"""Typed rows: SQL result rows into dataclasses, and typed change sets for UPDATEs.

A store declares what it returns as a dataclass and calls `from_row(Cls, row)`: fields are matched
to columns by name (extra columns are ignored, dataclass fields with a default may be missing from
the row). The field plan is built once per (dataclass, column names) and cached.

An update takes a change-set dataclass whose fields default to `UNSET`; `changed(changes)` gives
the columns to write, so `None` (write NULL) and "leave alone" stay distinct and typed."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol, TypeVar

T = TypeVar("T")


class Unset(enum.Enum):
    """The type of UNSET: a field of a change set that the update leaves alone."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


class _Row(Protocol):
    """What SQLAlchemy's Row offers (and a plain named tuple too)."""

    @property
    def _fields(self) -> tuple[str, ...]: ...

    def __getitem__(self, index: int) -> Any: ...


Converter = Callable[[Any], Any]


def _converter(hint: Any) -> Converter | None:
    """Columns arrive as lists (ARRAY) or dicts (JSONB); a `tuple[...]` field wants a tuple and a
    `list[...]` field its own copy."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(inner) == 1:
            convert = _converter(inner[0])
            if convert is not None:
                return lambda v: None if v is None else convert(v)
        return None
    if origin is tuple or hint is tuple:
        return tuple
    if origin is list or hint is list:
        return list
    if origin is dict or hint is dict:
        return dict
    return None


FieldSpec = tuple[tuple[str, bool, Converter | None], ...]
RowPlan = tuple[tuple[str, int, Converter | None], ...]
_field_specs: dict[type, FieldSpec] = {}
_row_plans: dict[tuple[type, tuple[str, ...]], RowPlan] = {}


def _fields_of(cls: type) -> FieldSpec:
    """(name, required, converter) for each init field of the dataclass; built once per class."""
    spec = _field_specs.get(cls)
    if spec is None:
        spec = _field_specs[cls] = _build_fields_of(cls)
    return spec


def _build_fields_of(cls: type) -> FieldSpec:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    try:
        hints = typing.get_type_hints(cls)
    except NameError:  # a class defined in a function: its fields are copied as they come
        hints = {}
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append((f.name, required, _converter(hints.get(f.name))))
    return tuple(out)


def _plan(cls: type, columns: tuple[str, ...]) -> RowPlan:
    """Which column feeds which field; built once per (class, columns of the query)."""
    plan = _row_plans.get((cls, columns))
    if plan is None:
        plan = _row_plans[(cls, columns)] = _build_plan(cls, columns)
    return plan


def _build_plan(cls: type, columns: tuple[str, ...]) -> RowPlan:
    index = {name: i for i, name in enumerate(columns)}
    plan = []
    for name, required, convert in _fields_of(cls):
        if name in index:
            plan.append((name, index[name], convert))
        elif required:
            raise KeyError(f"{cls.__name__}.{name} has no column in the row {columns}")
    return tuple(plan)


def from_row(cls: type[T], row: _Row) -> T:
    """The dataclass `cls` built from the same-named columns of `row`."""
    plan = _plan(cls, tuple(row._fields))
    values = {}
    for name, i, convert in plan:
        value = row[i]
        values[name] = convert(value) if convert is not None and value is not None else value
    return cls(**values)


def from_rows(cls: type[T], rows: Iterable[_Row]) -> list[T]:
    return [from_row(cls, row) for row in rows]


def changed(changes: object) -> dict[str, Any]:
    """The fields of a change-set dataclass that are not UNSET, as column values."""
    return {
        name: value
        for name, _, _ in _fields_of(type(changes))
        if (value := getattr(changes, name)) is not UNSET
    }


def field_names(cls: type) -> Sequence[str]:
    """The init field names of a dataclass (e.g. what an update mask may name)."""
    return [name for name, _, _ in _fields_of(cls)]
