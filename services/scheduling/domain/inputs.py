"""Input rules of scheduling: dates, wall-clock times, instants, schedule rules, offsets. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.kit.validation import Checker, iana_timezones
from services.scheduling.domain.availability import BLOCKED, OPEN, Rule

HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
MAX_OFFSET_MINUTES = 43200  # 30 days
MAX_OFFSETS = 10


def checked_date(check: Checker, field: str, value: str) -> date | None:
    value = value.strip()
    if len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    check.fail(field, f"The {field} must be a date (YYYY-MM-DD).", "date")
    return None


def checked_minutes(check: Checker, field: str, value: str) -> int | None:
    match = HHMM.match(value.strip())
    if not match:
        check.fail(field, f"The {field} must be a time HH:MM (00:00 to 24:00).", "time")
        return None
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        check.fail(field, f"The {field} must be a time HH:MM (00:00 to 24:00).", "time")
        return None
    return minutes


def format_minutes(minutes: int | None) -> str:
    if minutes is None:
        return ""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def checked_timezone(check: Checker, field: str, value: str) -> ZoneInfo | None:
    name = check.timezone(field, value)
    return ZoneInfo(name) if name in iana_timezones() else None


def checked_instant(check: Checker, field: str, value: str, tz: ZoneInfo) -> datetime | None:
    """ISO-8601; without an offset the wall clock of `tz` (a skipped time reads as fold=0)."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        check.fail(field, f"The {field} must be an ISO-8601 date-time.", "date_time")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def checked_rules(
    check: Checker, rules: Sequence[Any], *, weekly_open_only: bool = False
) -> list[Rule]:
    """Schedule rules from the request's ScheduleRule messages."""
    out: list[Rule] = []
    for i, raw in enumerate(rules):
        prefix = f"rules.{i}"
        kind = raw.kind.strip()
        if kind not in (OPEN, BLOCKED):
            check.fail(f"{prefix}.kind", "The kind must be open or blocked.", "in")
            continue
        has_weekday = raw.HasField("weekday")
        has_date = raw.HasField("date") and raw.date.strip() != ""
        if has_weekday == has_date:
            check.fail(prefix, "A rule names either a weekday or a date.", "weekday_or_date")
            continue
        weekday = None
        on = None
        if has_weekday:
            if not 0 <= raw.weekday <= 6:
                check.fail(f"{prefix}.weekday", "The weekday must be 0 (Sunday) to 6.", "between")
                continue
            weekday = raw.weekday
        else:
            on = checked_date(check, f"{prefix}.date", raw.date)
            if on is None:
                continue
        if weekly_open_only and (kind != OPEN or on is not None):
            check.fail(prefix, "The default schedule holds weekly open windows only.", "weekly")
            continue
        start = end = None
        if raw.start_time.strip() or raw.end_time.strip() or kind == OPEN:
            start = checked_minutes(check, f"{prefix}.start_time", raw.start_time)
            end = checked_minutes(check, f"{prefix}.end_time", raw.end_time)
            if start is None or end is None:
                continue
            if end <= start:
                check.fail(f"{prefix}.end_time", "The end_time must be after start_time.", "after")
                continue
        out.append(Rule(kind, weekday=weekday, on=on, start=start, end=end))
    return out


def rules_to_json(rules: Iterable[Rule]) -> list[dict[str, Any]]:
    return [
        {
            "kind": r.kind,
            "weekday": r.weekday,
            "date": r.on.isoformat() if r.on else None,
            "start": r.start,
            "end": r.end,
        }
        for r in rules
    ]


def rules_from_json(raw: Iterable[dict[str, Any]]) -> list[Rule]:
    return [
        Rule(
            r["kind"],
            weekday=r.get("weekday"),
            on=date.fromisoformat(r["date"]) if r.get("date") else None,
            start=r.get("start"),
            end=r.get("end"),
        )
        for r in raw
    ]


def checked_offsets(check: Checker, field: str, values: Sequence[Any]) -> list[int]:
    """Reminder offsets: whole minutes 1..43200, at most 10, duplicates folded."""
    out: set[int] = set()
    if len(values) > MAX_OFFSETS:
        check.fail(field, f"The {field} may hold at most {MAX_OFFSETS} offsets.", "too_many")
        return []
    for i, value in enumerate(values):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value != int(value)
            or not 1 <= value <= MAX_OFFSET_MINUTES
        ):
            check.fail(
                f"{field}.{i}",
                f"Each offset must be whole minutes between 1 and {MAX_OFFSET_MINUTES}.",
                "between",
            )
            continue
        out.add(int(value))
    return sorted(out, reverse=True)
