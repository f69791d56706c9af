"""The availability engine: pure functions, no I/O, no clock of their own.

Working hours are rules in the provider's time zone; every instant the engine returns is an aware
UTC datetime. Each local day is built from its own wall-clock rules and only then converted, so a
day of 23 or 25 hours (DST) gets exactly the instants its wall clock shows.

A booking at `t` for a service of duration `d` with buffers `before`/`after`:
- its core `[t, t + d)` starts in an open window of its local day and ends inside it, or inside
  the open time that window runs into at midnight (a 24-hour shop, a night shift: day D's
  window closing at 24:00 as day D+1's opens at 00:00); buffers may stick out;
- its block `[t - before, t + d + after)` overlaps no busy interval of the provider (other
  bookings' blocks, Google busy times): the same rule the database's exclusion constraint
  enforces on bookings;
- for each resource of the service, fewer than `capacity` live bookings' blocks overlap it;
- its local day is not a closure;
- `now + min_notice <= t <= now + horizon`.
Free slots are the times on each window's grid (window start + k × step) that satisfy all of it.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

OPEN = "open"
BLOCKED = "blocked"
DAY_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class Rule:
    """A weekly window (`weekday`, 0 = Sunday) or a date override (`on`), in minutes of the
    local day; `start`/`end` None on a blocked rule means the whole day."""

    kind: str
    weekday: int | None = None
    on: date | None = None
    start: int | None = None
    end: int | None = None


Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class ResourceLoad:
    """A resource's capacity and the blocks of the live bookings that use it."""

    resource_id: int
    capacity: int
    blocks: Sequence[Interval] = ()


@dataclass(frozen=True, slots=True)
class Provider:
    provider_id: int
    timezone: ZoneInfo
    rules: Sequence[Rule]
    busy: Sequence[Interval] = ()  # bookings' blocks and outside commitments, any order
    # More of them as epoch seconds (how availability reads them: no datetime per interval).
    busy_seconds: Sequence[tuple[int, int]] = ()


@dataclass(frozen=True, slots=True)
class Query:
    duration: timedelta
    first_day: date  # inclusive, local to each provider
    last_day: date  # inclusive
    now: datetime
    before: timedelta = timedelta(0)
    after: timedelta = timedelta(0)
    step: timedelta | None = None  # default: the duration
    min_notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=365)
    closed_days: frozenset[date] = frozenset()
    resources: Sequence[ResourceLoad] = ()


@dataclass(frozen=True, slots=True)
class Slot:
    """A free slot; instants are kept as epoch seconds (datetimes on demand)."""

    provider_id: int
    start_ts: int
    end_ts: int
    timezone: ZoneInfo = field(compare=False)

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ts, UTC)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_ts, UTC)

    @property
    def local_start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ts, self.timezone)


# ── working hours ───────────────────────────────────────────────────────────────────────────


def sunday_weekday(day: date) -> int:
    """0 = Sunday … 6 = Saturday (the API's convention)."""
    return (day.weekday() + 1) % 7


def _subtract(spans: list[tuple[int, int]], cut: tuple[int, int]) -> list[tuple[int, int]]:
    lo, hi = cut
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if hi <= a or lo >= b:
            out.append((a, b))
            continue
        if a < lo:
            out.append((a, lo))
        if hi < b:
            out.append((hi, b))
    return out


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def local_minutes_open(rules: Sequence[Rule], day: date) -> list[tuple[int, int]]:
    """The day's open spans in minutes of its wall clock: the open date overrides when there are
    any (they replace the weekly windows), else the weekly windows; minus the blocked rules."""
    weekday = sunday_weekday(day)
    overrides = [r for r in rules if r.kind == OPEN and r.on == day]
    weekly = [r for r in rules if r.kind == OPEN and r.on is None and r.weekday == weekday]
    opens = overrides or weekly
    spans = _merge((r.start or 0, DAY_MINUTES if r.end is None else r.end) for r in opens)
    for r in rules:
        if r.kind != BLOCKED:
            continue
        if r.on == day or (r.on is None and r.weekday == weekday):
            spans = _subtract(spans, (r.start or 0, DAY_MINUTES if r.end is None else r.end))
    return spans


def wall_clock(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """The UTC instant of `minute` past local midnight of `day` on its wall clock. A time the
    clock skips (spring forward) maps to the instant just after the gap, as PEP 495 fold=0
    reads it; "24:00" is the next day's midnight."""
    extra, minute = divmod(minute, DAY_MINUTES)
    local = datetime.combine(day + timedelta(days=extra), time(minute // 60, minute % 60), tz)
    return local.astimezone(UTC)


def open_windows(provider: Provider, day: date) -> list[Interval]:
    tz = provider.timezone
    return [
        (wall_clock(day, a, tz), wall_clock(day, b, tz))
        for a, b in local_minutes_open(provider.rules, day)
    ]


def local_day_bounds(day: date, tz: ZoneInfo) -> Interval:
    return wall_clock(day, 0, tz), wall_clock(day, DAY_MINUTES, tz)


# ── forbidden start times ───────────────────────────────────────────────────────────────────


def _forbidden_starts(blocks: Iterable[Interval], q: Query) -> list[Interval]:
    """Start times `t` whose block `[t - before, t + d + after)` overlaps a busy `[s, e)` lie in
    the open interval `(s - d - after, e + before)`. Sorted, and merged only where they truly
    overlap, so a start exactly at a boundary stays allowed."""
    reach = q.duration + q.after
    spans = sorted((s - reach, e + q.before) for s, e in blocks if e > s)
    out: list[Interval] = []
    for lo, hi in spans:
        if out and lo < out[-1][1]:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _full_starts(load: ResourceLoad, q: Query) -> list[Interval]:
    """Start times at which `capacity` or more of the resource's bookings overlap the block: the
    regions covered by at least `capacity` of the open intervals of `_forbidden_starts`."""
    if load.capacity <= 1:
        return _forbidden_starts(load.blocks, q)
    reach = q.duration + q.after
    spans = [(s - reach, e + q.before) for s, e in load.blocks if e > s]
    if len(spans) < load.capacity:
        return []
    lows = sorted(lo for lo, _ in spans)
    highs = sorted(hi for _, hi in spans)
    points = sorted({*lows, *highs})

    def covering_segment_after(x: datetime) -> int:  # open intervals covering (x, next point)
        return bisect.bisect_right(lows, x) - bisect.bisect_right(highs, x)

    def covering_point(x: datetime) -> int:  # open intervals with lo < x < hi
        return bisect.bisect_left(lows, x) - bisect.bisect_right(highs, x)

    out: list[Interval] = []
    for left, right in itertools.pairwise(points):
        if covering_segment_after(left) < load.capacity:
            continue
        if out and out[-1][1] == left and covering_point(left) >= load.capacity:
            out[-1] = (out[-1][0], right)
        else:
            out.append((left, right))
    return out


class _Cursor:
    """Walks sorted, disjoint open intervals alongside increasing times."""

    __slots__ = ("i", "spans")

    def __init__(self, spans: list[Interval]) -> None:
        self.spans = spans
        self.i = 0

    def blocks(self, t: datetime) -> bool:
        spans = self.spans
        while self.i < len(spans) and spans[self.i][1] <= t:
            self.i += 1
        return self.i < len(spans) and spans[self.i][0] < t

    def seek(self, t: datetime) -> None:
        """Restart the walk at `t` (times may go back a little between windows)."""
        self.i = bisect.bisect_left(self.spans, (t, t)) - 1
        self.i = max(self.i, 0)


# ── the engine ──────────────────────────────────────────────────────────────────────────────


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _union(spans: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Open intervals (epoch seconds), sorted, merged only where they truly overlap; as two
    lists (starts, ends): no tuple per merged interval, and the walk indexes them directly."""
    lows: list[int] = []
    highs: list[int] = []
    end = 0
    for lo, hi in sorted(spans):
        if highs and lo < end:
            if hi > end:
                end = highs[-1] = hi
        else:
            lows.append(lo)
            highs.append(hi)
            end = hi
    return lows, highs


# (start, end, open until): a window in epoch seconds, and the end of the open time it runs
# into through windows that touch it (the next local day's opening at midnight).
Windows = list[tuple[int, int, int]]

# Days after a window that its open time may run into: a booking is at most 24 hours, so one
# starting on day D ends by day D+2 even when D+1 is a 23-hour (DST) day.
RUN_ON_DAYS = 2


def chained_windows(
    provider: Provider, first: date, last: date, closed_days: frozenset[date]
) -> Windows:
    """The provider's open windows of the days `first`..`last`, closures left out, each with the
    end of the open time it runs into (its own end unless the next window starts right there)."""
    tz = provider.timezone
    spans: list[tuple[int, int, bool]] = []
    for day in days(first, last + timedelta(days=RUN_ON_DAYS)):
        if day in closed_days:
            continue
        for a, b in local_minutes_open(provider.rules, day):
            start = int(wall_clock(day, a, tz).timestamp())
            spans.append((start, int(wall_clock(day, b, tz).timestamp()), day <= last))
    out: Windows = []
    open_until = 0
    for i in range(len(spans) - 1, -1, -1):  # backwards: each window learns where its run ends
        start, end, wanted = spans[i]
        runs_on = i + 1 < len(spans) and spans[i + 1][0] <= end
        # Never short of its own end: wall times inside a DST gap can map out of order.
        open_until = max(open_until, end) if runs_on else end
        if wanted:
            out.append((start, end, open_until))
    out.reverse()
    return out


def _open_seconds(provider: Provider, q: Query) -> Windows:
    """The provider's open windows over the query's days, closures left out, in epoch seconds."""
    return chained_windows(provider, q.first_day, q.last_day, q.closed_days)


def _windows_of(provider: Provider, q: Query, known: dict[object, Windows] | None) -> Windows:
    """`_open_seconds`, shared by the providers of one query with the same time zone and rules
    (usually all of them: the workspace's default schedule)."""
    if known is None:
        return _open_seconds(provider, q)
    key = (provider.timezone, tuple(provider.rules))
    found = known.get(key)
    if found is None:
        found = known[key] = _open_seconds(provider, q)
    return found


def free_starts(
    provider: Provider, q: Query, known_windows: dict[object, Windows] | None = None
) -> list[int]:
    """The start times (epoch seconds) of every free slot of one provider, in order. Per window,
    the allowed start times are the closed gaps between forbidden open intervals, and the grid
    points in each gap are counted out arithmetically (one `range` per gap)."""
    step = int((q.step or q.duration).total_seconds())
    duration = int(q.duration.total_seconds())
    earliest = int((q.now + q.min_notice).timestamp())
    latest = int((q.now + q.horizon).timestamp())
    reach = duration + int(q.after.total_seconds())
    before = int(q.before.total_seconds())
    spans = [(a - reach, b + before) for a, b in provider.busy_seconds if b > a]
    spans += [
        (int(a.timestamp()) - reach, int(b.timestamp()) + before) for a, b in provider.busy if b > a
    ]
    for load in q.resources:
        spans += [(int(a.timestamp()), int(b.timestamp())) for a, b in _full_starts(load, q)]
    lows, highs = _union(spans)
    count = len(lows)
    out: list[int] = []
    extend = out.extend
    for ws, we, open_until in _windows_of(provider, q, known_windows):
        last = open_until - duration if open_until - duration < latest else latest
        if open_until > we and last >= we:
            last = we - 1  # later starts are on the next window's grid
        first = ws if ws > earliest else earliest
        if last < first:
            continue
        # forbidden intervals that may touch [first, last]
        i = bisect.bisect_left(lows, first) - 1
        if i < 0:
            i = 0
        cursor = first
        while cursor <= last:
            if i < count and lows[i] < last:
                lo, hi = lows[i], highs[i]
                i += 1
                if hi <= cursor:
                    continue
                gap_end = lo if lo < last else last
                next_cursor = hi  # > cursor
            else:
                gap_end = last
                next_cursor = last + 1
            if gap_end >= cursor:
                t = ws + -(-(cursor - ws) // step) * step
                extend(range(t, gap_end + 1, step))
            cursor = next_cursor
    return out


def free_slots(provider: Provider, q: Query) -> list[Slot]:
    """Every free slot of one provider, in time order."""
    duration = int(q.duration.total_seconds())
    pid, tz = provider.provider_id, provider.timezone
    return [Slot(pid, t, t + duration, tz) for t in free_starts(provider, q)]


@dataclass(frozen=True, slots=True)
class FreeSlots:
    """The free slots of several providers, ordered by start then provider, kept as columns (an
    answer holds thousands; a Slot object each is made only on demand)."""

    starts: list[int]  # epoch seconds
    provider_ids: list[int]
    duration: int  # seconds
    zones: dict[int, ZoneInfo]  # provider id → time zone

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[Slot]:
        zones, d = self.zones, self.duration
        for p, t in zip(self.provider_ids, self.starts, strict=True):
            yield Slot(p, t, t + d, zones[p])

    def head(self, limit: int) -> FreeSlots:
        return FreeSlots(self.starts[:limit], self.provider_ids[:limit], self.duration, self.zones)

    def local_starts(self) -> list[str]:
        """Each start as ISO-8601 in its provider's time zone, with its offset (the value of
        `Slot.local_start.isoformat()`), formatted once per distinct (zone, instant)."""
        zones = self.zones
        seen: dict[tuple[ZoneInfo, int], str] = {}
        out: list[str] = []
        append = out.append
        for p, t in zip(self.provider_ids, self.starts, strict=True):
            key = (zones[p], t)
            text = seen.get(key)
            if text is None:
                text = seen[key] = datetime.fromtimestamp(t, key[0]).isoformat()
            append(text)
        return out


def free_slots_of(providers: Sequence[Provider], q: Query) -> FreeSlots:
    """Every free slot of these providers, ordered by start time, then provider id."""
    ordered = sorted(providers, key=lambda p: p.provider_id)
    n = len(ordered)
    known: dict[object, Windows] = {}
    keys: list[int] = []
    for index, provider in enumerate(ordered):
        # start × n + index sorts by (start, provider id) as plain integers
        keys += [t * n + index for t in free_starts(provider, q, known)]
    keys.sort()
    ids = [p.provider_id for p in ordered]
    starts: list[int] = []
    provider_ids: list[int] = []
    for key in keys:
        t, index = divmod(key, n)
        starts.append(t)
        provider_ids.append(ids[index])
    return FreeSlots(
        starts,
        provider_ids,
        int(q.duration.total_seconds()),
        {p.provider_id: p.timezone for p in ordered},
    )


def unavailable_reason(provider: Provider, q: Query, start: datetime) -> str | None:
    """Why a booking at `start` cannot be made, or None when it can: "closed" (no open window
    holds it, a closure, notice or horizon) or "taken" (a booking, a busy time or a full
    resource is in the way)."""
    start = start.astimezone(UTC)
    if start < q.now + q.min_notice or start > q.now + q.horizon:
        return "closed"
    local_day = start.astimezone(provider.timezone).date()
    if local_day in q.closed_days:
        return "closed"
    at, end = start.timestamp(), (start + q.duration).timestamp()
    # The previous local day's windows too: one may close exactly at this day's midnight.
    windows = chained_windows(provider, local_day - timedelta(days=1), local_day, q.closed_days)
    if not any(ws <= at < we and end <= open_until for ws, we, open_until in windows):
        return "closed"
    busy = [*provider.busy, *((_instant(a), _instant(b)) for a, b in provider.busy_seconds)]
    for spans in [_forbidden_starts(busy, q), *(_full_starts(r, q) for r in q.resources)]:
        cursor = _Cursor(spans)
        cursor.seek(start)
        if cursor.blocks(start):
            return "taken"
    return None


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def block_of(start: datetime, duration: timedelta, before: timedelta, after: timedelta) -> Interval:
    return start - before, start + duration + after
