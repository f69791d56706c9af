"""Runs the notifications service: `python -m services.notifications`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.consumer import Subscription
from services.kit.crypto import SecretBox
from services.kit.jobs import PeriodicJob
from services.kit.server import ServiceApp, ServiceContext
from services.notifications.api.digest import DigestApi
from services.notifications.api.internal import NotificationsInternalApi
from services.notifications.api.live import LiveEventsApi, StreamTicketsApi
from services.notifications.api.push import PushApi
from services.notifications.api.webhooks import WebhooksApi
from services.notifications.domain import emails
from services.notifications.domain.digest import DigestRun
from services.notifications.domain.dispatcher import Dispatcher
from services.notifications.domain.emails import EmailSender
from services.notifications.domain.live import LiveHub
from services.notifications.domain.outbound import Sender
from services.notifications.domain.push import PushSender, Vapid
from services.notifications.events import identity as identity_events
from services.notifications.events import inbox as inbox_events
from services.notifications.events import scheduling as scheduling_events
from services.notifications.settings import NotificationsSettings
from services.notifications.store import webhooks as webhook_store
from services.notifications.store.webhooks import EndpointRow

Context = ServiceContext[NotificationsSettings]


@dataclass
class Runtime:
    """What servicers, consumers and jobs share in one process."""

    box: SecretBox
    sender: Sender
    dispatcher: Dispatcher
    emails: EmailSender
    hub: LiveHub
    vapid: Vapid
    pushes: PushSender


_runtimes: dict[int, Runtime] = {}


def runtime(ctx: Context) -> Runtime:
    found = _runtimes.get(id(ctx))
    if found is not None:
        return found
    settings = ctx.settings
    box = SecretBox(settings.encryption_key)
    sender = Sender(
        production=settings.environment == "production",
        allowed_hosts=settings.allowed_private_hosts,
        timeout=settings.webhook_timeout_seconds,
        max_connections=settings.webhook_concurrency * 2,
    )

    async def tell_owners(conn: AsyncConnection, endpoint: EndpointRow, reason: str) -> None:
        now = ctx.clock.now()
        for address in await webhook_store.owner_emails(conn, endpoint.tenant_id):
            await emails.enqueue(
                conn,
                template="endpoint_disabled",
                to=address,
                data={"url": endpoint.url, "reason": reason},
                idempotency_key=f"endpoint-disabled:{endpoint.id}:{now.isoformat()}:{address}",
                tenant_id=endpoint.tenant_id,
                now=now,
            )

    dispatcher = Dispatcher(
        ctx.db.engine,
        ctx.clock,
        box,
        sender,
        schedule=settings.retry_schedule,
        concurrency=settings.webhook_concurrency,
        per_endpoint=settings.webhook_endpoint_concurrency,
        lease_seconds=settings.webhook_lease_seconds,
        disable_after_seconds=settings.webhook_disable_after_seconds,
        poll_seconds=settings.webhook_poll_seconds,
        on_disabled=tell_owners,
    )
    sender_job = EmailSender(
        ctx.db.engine,
        ctx.clock,
        api_url=settings.email_api_url,
        api_key=settings.email_api_key,
        sender=settings.email_from,
    )
    hub = LiveHub(ctx.db.engine, ctx.clock, timedelta(seconds=settings.live_retention_seconds))
    vapid = Vapid(settings.vapid_private_key, settings.vapid_public_key, settings.vapid_subject)
    pushes = PushSender(ctx.db.engine, ctx.clock, vapid)
    found = _runtimes[id(ctx)] = Runtime(box, sender, dispatcher, sender_job, hub, vapid, pushes)
    return found


def servicers(ctx: Context) -> list[object]:
    rt = runtime(ctx)
    settings = ctx.settings
    return [
        WebhooksApi(
            ctx.db, rt.box, rt.sender, timedelta(seconds=settings.rotation_overlap_seconds)
        ),
        LiveEventsApi(ctx.db, rt.hub, timedelta(seconds=settings.stream_ticket_seconds)),
        StreamTicketsApi(ctx.db),
        NotificationsInternalApi(ctx.db),
        DigestApi(ctx.db),
        PushApi(
            ctx.db,
            rt.vapid,
            production=settings.environment == "production",
            allowed_hosts=settings.allowed_private_hosts,
        ),
    ]


def subscriptions(ctx: Context) -> list[Subscription]:
    return [
        *inbox_events.SUBSCRIPTIONS,
        *identity_events.SUBSCRIPTIONS,
        *scheduling_events.SUBSCRIPTIONS,
    ]


def jobs(ctx: Context) -> list[PeriodicJob]:
    rt = runtime(ctx)
    poll = ctx.settings.webhook_poll_seconds
    return [
        # Runs until the service stops (woken by new rows, polling for retries); the job
        # starts it again after a crash.
        PeriodicJob("dispatch_webhooks", every=poll, run=rt.dispatcher.run, exclusive=False),
        PeriodicJob("send_emails", every=max(poll, 0.5), run=rt.emails.run, exclusive=False),
        PeriodicJob("send_pushes", every=max(poll, 0.5), run=rt.pushes.run, exclusive=False),
        PeriodicJob("purge_live_events", every=60.0, run=rt.hub.purge),
        PeriodicJob(
            "send_digests",
            every=ctx.settings.digest_check_seconds,
            run=DigestRun(ctx.db.engine, ctx.clock, ctx.settings.digest_hour_utc).run,
        ),
    ]


app = ServiceApp(
    "notifications",
    settings=NotificationsSettings,
    servicers=servicers,
    subscriptions=subscriptions,
    jobs=jobs,
)

if __name__ == "__main__":
    app.main()
