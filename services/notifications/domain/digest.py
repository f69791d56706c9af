"""The activity digest: its settings, the figures of a period and the scheduled run.

The run happens once a day at `run_hour` UTC (9:00): a daily digest covers the workspace's last
complete day in its own time zone; a weekly one goes out on Mondays and covers the last 7 local
days. A period is claimed in the same transaction that queues its emails, and the job is exclusive
across replicas, so each period is sent once. Enabling enrolls the workspace from the next run
on (a run earlier than the moment it was enabled is not its)."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.kit.clock import Clock
from services.kit.errors import invalid
from services.kit.rows import UNSET, Unset
from services.notifications.domain import emails
from services.notifications.store import digest as store
from services.notifications.store import webhooks as webhook_store

FREQUENCIES = ("daily", "weekly")


@dataclass(frozen=True)
class Config:
    enabled: bool
    frequency: str
    last_sent_at: datetime | None


@dataclass(frozen=True)
class ConfigChanges:
    enabled: bool | Unset | None = UNSET
    frequency: str | Unset | None = UNSET


def view(row: store.ConfigRow | None) -> Config:
    if row is None:
        return Config(False, "daily", None)
    return Config(row.enabled, row.frequency, row.last_sent_at)


async def get(conn: AsyncConnection, tenant_id: int) -> Config:
    return view(await store.get_config(conn, tenant_id))


async def update(
    conn: AsyncConnection, tenant_id: int, asked: ConfigChanges, now: datetime
) -> Config:
    current = await store.get_config(conn, tenant_id)
    enabled = current.enabled if current else False
    frequency = current.frequency if current else "daily"
    enabled_at = current.enabled_at if current else None
    if asked.enabled is None:
        raise invalid("enabled", "The enabled field must be true or false.", "required")
    if asked.frequency is None:
        raise invalid("frequency", "The frequency must be daily or weekly.", "one_of")
    if isinstance(asked.frequency, str):
        if asked.frequency not in FREQUENCIES:
            raise invalid("frequency", "The frequency must be daily or weekly.", "one_of")
        frequency = asked.frequency
    if isinstance(asked.enabled, bool):
        if asked.enabled and not enabled:
            enabled_at = now
        enabled = asked.enabled
    row = await store.save_config(
        conn, tenant_id, enabled=enabled, frequency=frequency, enabled_at=enabled_at, now=now
    )
    return view(row)


def zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def covered_days(frequency: str, run_at: datetime, timezone: str) -> tuple[date, date]:
    """The local days a run at `run_at` reports: the last complete one, or the last seven."""
    today = run_at.astimezone(zone(timezone)).date()
    last = today - timedelta(days=1)
    first = last - timedelta(days=6) if frequency == "weekly" else last
    return first, last


def period_of(frequency: str, run_date: date) -> str | None:
    """The period a run on `run_date` (UTC) sends, or None (weekly digests go out on Mondays)."""
    if frequency == "weekly":
        if run_date.weekday() != 0:
            return None
        year, week, _ = run_date.isocalendar()
        return f"w:{year}-W{week:02d}"
    return f"d:{run_date.isoformat()}"


async def render(
    conn: AsyncConnection, tenant_id: int, frequency: str, run_at: datetime
) -> tuple[str, dict[str, str]]:
    profile = await store.profile(conn, tenant_id)
    first, last = covered_days(frequency, run_at, profile.timezone)
    figures = await store.figures(conn, tenant_id, first, last)
    name = profile.name or "your workspace"
    span = last.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
    word = "Weekly" if frequency == "weekly" else "Daily"
    data = {
        "subject": f"{word} activity of {name}: {span}",
        "summary": f"What happened in {name} ({span}, {profile.timezone}):",
        "n_messages_received": str(figures.inbound),
        "n_messages_sent": str(figures.outbound),
        "n_new_conversations": str(figures.conversations),
    }
    return span, data


async def send_test(
    conn: AsyncConnection, tenant_id: int, to: str, now: datetime
) -> tuple[int, emails.Rendered]:
    config = view(await store.get_config(conn, tenant_id))
    # As the next run will send it: tomorrow's run reports the current local day.
    _, data = await render(conn, tenant_id, config.frequency, now + timedelta(days=1))
    data["subject"] = "[Test] " + data["subject"]
    email_id, _ = await emails.enqueue(
        conn,
        template="digest",
        to=to,
        data=data,
        idempotency_key=f"digest-test:{tenant_id}:{now.isoformat()}",
        tenant_id=tenant_id,
        now=now,
    )
    return email_id, emails.render("digest", data)


class DigestRun:
    """The periodic job (exclusive): sends what today's run owes, once per period."""

    def __init__(self, engine: AsyncEngine, clock: Clock, run_hour: int) -> None:
        self.engine = engine
        self.clock = clock
        self.run_hour = run_hour

    async def run(self) -> None:
        now = self.clock.now().astimezone(UTC)
        run_at = now.replace(hour=self.run_hour, minute=0, second=0, microsecond=0)
        if now < run_at:
            return  # today's run has not come yet
        async with self.engine.connect() as conn:
            configs = await store.enabled_configs(conn)
        for config in configs:
            period = period_of(config.frequency, run_at.date())
            if period is None or config.last_period == period:
                continue
            if config.enabled_at is None or config.enabled_at > run_at:
                continue  # enrolled after this run: its first digest is the next one
            async with self.engine.begin() as conn:
                if not await store.claim_period(conn, config.tenant_id, period, now):
                    continue
                _, data = await render(conn, config.tenant_id, config.frequency, run_at)
                for address in await webhook_store.owner_emails(conn, config.tenant_id):
                    await emails.enqueue(
                        conn,
                        template="digest",
                        to=address,
                        data=data,
                        idempotency_key=f"digest:{config.tenant_id}:{period}:{address}",
                        tenant_id=config.tenant_id,
                        now=now,
                    )


def local_day(now: datetime, timezone: str) -> date:
    return now.astimezone(zone(timezone)).date()
