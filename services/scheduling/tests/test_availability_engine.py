"""The availability engine alone: fixed cases (DST days, overrides, closures, buffers, capacity,
notice, horizon) and seeded random cases checking its properties (hypothesis is not among our
dev packages; each random case prints its seed when it fails)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.scheduling.domain.availability import (
    BLOCKED,
    OPEN,
    Provider,
    Query,
    ResourceLoad,
    Rule,
    days,
    free_slots,
    free_slots_of,
    local_day_bounds,
    local_minutes_open,
    open_windows,
    unavailable_reason,
)

NY = ZoneInfo("America/New_York")
LISBON = ZoneInfo("Europe/Lisbon")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
HOUR = timedelta(hours=1)
PAST = datetime(2026, 1, 1, tzinfo=UTC)


def every_day(start: int, end: int) -> list[Rule]:
    return [Rule(OPEN, weekday=d, start=start, end=end) for d in range(7)]


def query(**kwargs: object) -> Query:
    values: dict[str, object] = {
        "duration": HOUR,
        "first_day": date(2027, 3, 10),
        "last_day": date(2027, 3, 16),
        "now": PAST,
        "horizon": timedelta(days=3650),
    }
    values.update(kwargs)
    return Query(**values)  # type: ignore[arg-type]


def test_new_york_dst_week_keeps_wall_clock_hours() -> None:
    provider = Provider(1, NY, every_day(9 * 60, 12 * 60))
    slots = free_slots(provider, query())
    by_day: dict[date, list[str]] = {}
    for slot in slots:
        by_day.setdefault(slot.local_start.date(), []).append(slot.local_start.strftime("%H:%M"))
    assert all(times == ["09:00", "10:00", "11:00"] for times in by_day.values())
    assert len(by_day) == 7
    offsets = {s.local_start.date(): s.local_start.utcoffset() for s in slots}
    assert offsets[date(2027, 3, 13)] == timedelta(hours=-5)
    assert offsets[date(2027, 3, 14)] == timedelta(hours=-4)  # the clocks went forward at 02:00
    assert slots[0].start == datetime(2027, 3, 10, 14, tzinfo=UTC)


def test_a_day_of_23_hours_has_23_hourly_slots_and_25_on_fall_back() -> None:
    provider = Provider(1, LISBON, every_day(0, 24 * 60))
    spring = free_slots(provider, query(first_day=date(2027, 3, 28), last_day=date(2027, 3, 28)))
    assert len(spring) == 23
    autumn = free_slots(provider, query(first_day=date(2027, 10, 31), last_day=date(2027, 10, 31)))
    assert len(autumn) == 25
    start, end = local_day_bounds(date(2027, 3, 28), LISBON)
    assert end - start == timedelta(hours=23)
    assert all(start <= s.start and s.end <= end for s in spring)


def test_a_window_across_the_skipped_hour_is_one_hour_shorter() -> None:
    provider = Provider(1, NY, every_day(60, 5 * 60))  # 01:00-05:00 wall clock
    [window] = open_windows(provider, date(2027, 3, 14))
    assert window[1] - window[0] == timedelta(hours=3)


def test_open_time_that_runs_past_midnight_takes_a_booking_across_it() -> None:
    """A 24-hour shop, or a night shift closing at 24:00 as the next day opens at 00:00: a
    booking may run across midnight, never into a closed day or past a gap."""
    utc = ZoneInfo("UTC")
    late = datetime(2027, 3, 10, 23, 30, tzinfo=UTC)
    q = query(step=timedelta(minutes=30), last_day=date(2027, 3, 10))
    always = Provider(1, utc, every_day(0, 24 * 60))
    assert unavailable_reason(always, q, late) is None
    assert late in {s.start for s in free_slots(always, q)}
    assert max(s.start for s in free_slots(always, q)) == late  # 00:00 is the 11th's own grid
    holiday = query(step=timedelta(minutes=30), closed_days=frozenset({date(2027, 3, 11)}))
    assert unavailable_reason(always, holiday, late) == "closed"
    assert late not in {s.start for s in free_slots(always, holiday)}

    night = [
        Rule(OPEN, weekday=3, start=18 * 60, end=24 * 60),  # Wednesday the 10th
        Rule(OPEN, weekday=4, start=0, end=2 * 60),  # until 02:00 on Thursday
    ]
    shift = Provider(1, utc, night)
    assert unavailable_reason(shift, q, late) is None
    assert unavailable_reason(shift, q, datetime(2027, 3, 11, 1, tzinfo=UTC)) is None
    assert unavailable_reason(shift, q, datetime(2027, 3, 11, 1, 30, tzinfo=UTC)) == "closed"
    gap = Provider(1, utc, [night[0], Rule(OPEN, weekday=4, start=15, end=2 * 60)])
    assert unavailable_reason(gap, q, late) == "closed"
    assert late not in {s.start for s in free_slots(gap, q)}


def test_date_override_replaces_weekly_hours_and_blocked_rules_subtract() -> None:
    rules = [
        *every_day(9 * 60, 17 * 60),
        Rule(OPEN, on=date(2027, 3, 11), start=14 * 60, end=16 * 60),
        Rule(BLOCKED, weekday=5, start=12 * 60, end=13 * 60),  # Fridays' lunch
        Rule(BLOCKED, on=date(2027, 3, 15)),  # the whole Monday
    ]
    assert local_minutes_open(rules, date(2027, 3, 11)) == [(14 * 60, 16 * 60)]
    assert local_minutes_open(rules, date(2027, 3, 12)) == [(9 * 60, 12 * 60), (13 * 60, 17 * 60)]
    assert local_minutes_open(rules, date(2027, 3, 15)) == []


def test_closed_day_has_no_slots() -> None:
    provider = Provider(1, SAO_PAULO, every_day(9 * 60, 17 * 60))
    slots = free_slots(provider, query(closed_days=frozenset({date(2027, 3, 12)})))
    assert {s.local_start.date() for s in slots} == {
        date(2027, 3, d) for d in (10, 11, 13, 14, 15, 16)
    }


def test_buffers_keep_slots_off_a_booking() -> None:
    provider = Provider(
        1,
        SAO_PAULO,
        every_day(9 * 60, 17 * 60),
        busy=[(datetime(2027, 3, 10, 13, tzinfo=UTC), datetime(2027, 3, 10, 14, tzinfo=UTC))],
    )  # 10:00-11:00 local
    q = query(last_day=date(2027, 3, 10), before=timedelta(minutes=30), step=timedelta(minutes=30))
    times = [s.local_start.strftime("%H:%M") for s in free_slots(provider, q)]
    # A slot's block [t - 30 min, t + 60 min) must not overlap 10:00-11:00.
    assert "09:00" in times and "09:30" not in times and "10:30" not in times
    assert "11:00" not in times and "11:30" in times


def test_resource_capacity_fills_after_capacity_bookings() -> None:
    at = (datetime(2027, 3, 10, 13, tzinfo=UTC), datetime(2027, 3, 10, 14, tzinfo=UTC))
    provider = Provider(1, SAO_PAULO, every_day(9 * 60, 12 * 60))
    q = query(last_day=date(2027, 3, 10))
    two = ResourceLoad(7, capacity=2, blocks=[at])
    assert len(free_slots(provider, query(last_day=date(2027, 3, 10), resources=[two]))) == 3
    full = ResourceLoad(7, capacity=2, blocks=[at, at])
    slots = free_slots(provider, query(last_day=date(2027, 3, 10), resources=[full]))
    assert [s.local_start.hour for s in slots] == [9, 11]
    assert unavailable_reason(provider, q, at[0]) is None
    full_q = query(last_day=date(2027, 3, 10), resources=[full])
    assert unavailable_reason(provider, full_q, at[0]) == "taken"


def test_notice_and_horizon() -> None:
    provider = Provider(1, SAO_PAULO, every_day(9 * 60, 17 * 60))
    now = datetime(2027, 3, 10, 13, 10, tzinfo=UTC)  # 10:10 local
    q = query(now=now, min_notice=HOUR, horizon=timedelta(days=2))
    slots = free_slots(provider, q)
    assert slots[0].start >= now + HOUR
    assert slots[0].local_start.strftime("%H:%M") == "12:00"
    assert max(s.start for s in slots) <= now + timedelta(days=2)
    assert unavailable_reason(provider, q, datetime(2027, 3, 10, 13, tzinfo=UTC)) == "closed"


def test_unavailable_reason_outside_hours_and_taken() -> None:
    busy = [(datetime(2027, 3, 10, 13, tzinfo=UTC), datetime(2027, 3, 10, 14, tzinfo=UTC))]
    provider = Provider(1, SAO_PAULO, every_day(9 * 60, 17 * 60), busy=busy)
    q = query()
    assert unavailable_reason(provider, q, datetime(2027, 3, 10, 10, tzinfo=UTC)) == "closed"
    assert unavailable_reason(provider, q, datetime(2027, 3, 10, 13, tzinfo=UTC)) == "taken"
    assert unavailable_reason(provider, q, datetime(2027, 3, 10, 14, tzinfo=UTC)) is None
    assert unavailable_reason(provider, q, datetime(2027, 3, 10, 12, tzinfo=UTC)) is None


# ── properties over seeded random cases ───────────────────────────────────────────────────

ZONES = [
    NY,
    LISBON,
    SAO_PAULO,
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("UTC"),
]


def random_case(rng: random.Random) -> tuple[Provider, Query]:
    tz = rng.choice(ZONES)
    rules: list[Rule] = []
    for _ in range(rng.randint(1, 10)):
        a = rng.randrange(0, 24 * 60, 15)
        b = min(24 * 60, a + rng.randrange(15, 12 * 60, 15))
        kind = rng.choice([OPEN, OPEN, OPEN, BLOCKED])
        if rng.random() < 0.3:
            day = date(2027, 3, 1) + timedelta(days=rng.randrange(60))
            rules.append(Rule(kind, on=day, start=a, end=b))
        else:
            rules.append(Rule(kind, weekday=rng.randrange(7), start=a, end=b))
    first = date(2027, 3, 1) + timedelta(days=rng.randrange(45))
    base = datetime.combine(first, datetime.min.time(), UTC)
    busy = []
    for _ in range(rng.randint(0, 30)):
        s = base + timedelta(minutes=rng.randrange(0, 14 * 24 * 60, 5))
        busy.append((s, s + timedelta(minutes=rng.randrange(5, 240, 5))))
    loads = []
    for rid in range(rng.randint(0, 2)):
        blocks = []
        for _ in range(rng.randint(0, 12)):
            s = base + timedelta(minutes=rng.randrange(0, 14 * 24 * 60, 15))
            blocks.append((s, s + timedelta(minutes=rng.randrange(15, 180, 15))))
        loads.append(ResourceLoad(rid, rng.randint(1, 3), blocks))
    q = Query(
        duration=timedelta(minutes=rng.choice([15, 30, 45, 60, 90])),
        before=timedelta(minutes=rng.choice([0, 0, 5, 15])),
        after=timedelta(minutes=rng.choice([0, 0, 10, 30])),
        step=timedelta(minutes=rng.choice([15, 30, 60])),
        first_day=first,
        last_day=first + timedelta(days=rng.randrange(14)),
        now=base + timedelta(hours=rng.randrange(-48, 72)),
        min_notice=timedelta(minutes=rng.choice([0, 30, 120])),
        horizon=timedelta(days=rng.choice([3, 10, 365])),
        closed_days=frozenset(first + timedelta(days=rng.randrange(14)) for _ in range(2)),
        resources=loads,
    )
    return Provider(1, tz, rules, busy), q


def open_time(provider: Provider, q: Query, day: date) -> list[tuple[datetime, datetime]]:
    """The open windows from `day` to two days later, closures left out, joined where one
    ends as the next begins."""
    spans = sorted(
        w
        for d in (day, day + timedelta(days=1), day + timedelta(days=2))
        if d not in q.closed_days
        for w in open_windows(provider, d)
    )
    joined: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@pytest.mark.parametrize("seed", range(300))
def test_properties_of_random_calendars(seed: int) -> None:
    rng = random.Random(seed)
    provider, q = random_case(rng)
    slots = free_slots(provider, q)
    starts = [s.start for s in slots]
    assert starts == sorted(starts), f"seed {seed}: slots out of order"
    for slot in slots:
        block = (slot.start - q.before, slot.end + q.after)
        local_day = slot.local_start.date()
        # starts in an open window of its own local day and ends in open time
        assert any(w[0] <= slot.start < w[1] for w in open_windows(provider, local_day)), (
            f"seed {seed}: {slot} starts outside every window"
        )
        assert any(
            w[0] <= slot.start and slot.end <= w[1] for w in open_time(provider, q, local_day)
        ), f"seed {seed}: {slot} runs out of open time"
        assert local_day not in q.closed_days, f"seed {seed}: slot on a closed day"
        assert q.first_day <= local_day <= q.last_day
        assert q.now + q.min_notice <= slot.start <= q.now + q.horizon
        # no busy interval overlaps the block
        assert not any(overlaps(block, b) for b in provider.busy), f"seed {seed}: {slot} busy"
        for load in q.resources:
            used = sum(1 for b in load.blocks if overlaps(block, b))
            assert used < load.capacity, f"seed {seed}: resource {load.resource_id} full"
        # the booking check agrees with the slot list
        assert unavailable_reason(provider, q, slot.start) is None, f"seed {seed}"


@pytest.mark.parametrize("seed", range(100))
def test_grid_times_left_out_are_really_unavailable(seed: int) -> None:
    rng = random.Random(10_000 + seed)
    provider, q = random_case(rng)
    free = {s.start for s in free_slots(provider, q)}
    step = q.step or q.duration
    for day in days(q.first_day, q.last_day):
        for w_start, w_end in open_windows(provider, day):
            t = w_start
            while t < w_end:  # the grid's starts, those that would run past the window too
                if t not in free and day not in q.closed_days:
                    reason = unavailable_reason(provider, q, t)
                    assert reason is not None, f"seed {seed}: {t} left out but bookable"
                t += step


@pytest.mark.parametrize("seed", range(60))
def test_free_slots_of_several_providers_merges_them_in_order(seed: int) -> None:
    """The columnar answer of several providers: every provider's slots, ordered by start then
    provider id, local starts as each provider's own zone shows them; busy intervals given in
    epoch seconds count as the datetimes they stand for."""
    rng = random.Random(20_000 + seed)
    first, q = random_case(rng)
    providers = [first]
    for pid in rng.sample(range(2, 40), rng.randint(0, 3)):
        other, _ = random_case(rng)
        rules = rng.choice([other.rules, first.rules])
        seconds = [(int(a.timestamp()), int(b.timestamp())) for a, b in other.busy]
        providers.append(Provider(pid, other.timezone, rules, busy_seconds=seconds))
    expected = sorted(
        (s for p in providers for s in free_slots(p, q)), key=lambda s: (s.start, s.provider_id)
    )
    got = free_slots_of(providers, q)
    assert list(got) == expected, f"seed {seed}"
    assert got.local_starts() == [s.local_start.isoformat() for s in expected], f"seed {seed}"
    assert list(got.head(3)) == expected[:3]
    for provider in providers[1:]:
        as_datetimes = Provider(
            provider.provider_id,
            provider.timezone,
            provider.rules,
            busy=[
                (datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC))
                for a, b in provider.busy_seconds
            ],
        )
        assert free_slots(as_datetimes, q) == free_slots(provider, q), f"seed {seed}"
