"""The Webhooks servicer: Evolution's events, answered only once they are committed."""

from __future__ import annotations

import grpc

from plixa.inbox.v1 import webhooks_pb2, webhooks_pb2_grpc
from services.inbox.domain.inbound import handle_webhook
from services.inbox.domain.webhook_keys import WebhookKeys
from services.kit.db import Database


class WebhooksApi(webhooks_pb2_grpc.WebhooksServicer):
    def __init__(self, db: Database, keys: WebhookKeys) -> None:
        self.db = db
        self.keys = keys

    async def ReceiveEvolutionEvent(
        self, request: webhooks_pb2.EvolutionWebhookRequest, context: grpc.aio.ServicerContext
    ) -> webhooks_pb2.EvolutionWebhookResponse:
        outcome = await handle_webhook(
            self.db, self.keys, request.instance, dict(request.raw.headers), request.raw.body
        )
        return webhooks_pb2.EvolutionWebhookResponse(
            stored=outcome.stored, duplicates=outcome.duplicates, ignored=outcome.ignored
        )
