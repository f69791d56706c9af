"""Runs the inbox service: `python -m services.inbox`."""

from __future__ import annotations

from services.inbox.api.catalogue_servicers import catalogue_servicers
from services.inbox.api.conversations import ConversationsApi
from services.inbox.api.internal import InboxInternalApi
from services.inbox.api.messages import MessagesApi
from services.inbox.api.onboarding import OnboardingApi
from services.inbox.api.phone_instances import PhoneInstancesApi
from services.inbox.api.webhooks import WebhooksApi
from services.inbox.clients.evolution import EvolutionClient
from services.inbox.clients.identity import Members
from services.inbox.domain.instances import Instances
from services.inbox.domain.outbound import Sender
from services.inbox.domain.webhook_keys import WebhookKeys
from services.inbox.events import catalogue_erasure
from services.inbox.events import identity as identity_events
from services.inbox.jobs import inbox_jobs
from services.inbox.settings import InboxSettings
from services.kit.crypto import SecretBox
from services.kit.jobs import PeriodicJob
from services.kit.server import ServiceApp, ServiceContext

_built: dict[int, tuple[EvolutionClient, SecretBox, Sender]] = {}


def _parts(ctx: ServiceContext[InboxSettings]) -> tuple[EvolutionClient, SecretBox, Sender]:
    """One Evolution client and sender per process, shared by servicers and jobs."""
    if id(ctx) in _built:
        return _built[id(ctx)]
    settings = ctx.settings
    evolution = EvolutionClient(
        settings.evolution_url, settings.evolution_api_key, settings.evolution_timeout_seconds
    )
    box = SecretBox(settings.encryption_key)
    _built[id(ctx)] = (evolution, box, Sender(ctx.db, evolution, box))
    return _built[id(ctx)]


def servicers(ctx: ServiceContext[InboxSettings]) -> list[object]:
    """Every servicer inbox answers; the kit registers each through its generated base."""
    evolution, box, sender = _parts(ctx)
    keys = WebhookKeys()  # the numbers' webhook keys, forgotten here when a number is deleted
    instances = Instances(ctx.db, evolution, box, ctx.settings.webhook_base_url, keys)
    members = Members(ctx.settings.internal_secret)
    return [
        PhoneInstancesApi(instances),
        ConversationsApi(ctx.db, members),
        MessagesApi(sender),
        InboxInternalApi(sender),
        WebhooksApi(ctx.db, keys),
        OnboardingApi(ctx.db),
        *catalogue_servicers(ctx),
    ]


def jobs(ctx: ServiceContext[InboxSettings]) -> list[PeriodicJob]:
    return inbox_jobs(ctx, _parts(ctx)[2])


app = ServiceApp(
    "inbox",
    settings=InboxSettings,
    servicers=servicers,
    subscriptions=lambda ctx: [*identity_events.SUBSCRIPTIONS, *catalogue_erasure.SUBSCRIPTIONS],
    jobs=jobs,
)

if __name__ == "__main__":
    app.main()
