"""The workspace's WhatsApp numbers: provisioning on Evolution, pairing, disconnecting."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from sqlalchemy import text

from services.inbox.clients.evolution import EvolutionClient, EvolutionError
from services.inbox.domain import events
from services.inbox.domain.inbound import secret_hash
from services.inbox.domain.models import InstanceRow
from services.inbox.domain.webhook_keys import WebhookKeys
from services.inbox.store import messaging as store
from services.kit.crypto import SecretBox
from services.kit.db import Database, UnitOfWork
from services.kit.errors import DomainError, not_found
from services.kit.principal import current_principal

log = logging.getLogger("plixa.inbox.instances")

# PLANS.md, for a workspace whose entitlements have not reached inbox yet.
PLAN_NUMBERS = {"starter": 1, "professional": 2, "business": 5}
QR_REFRESH_AFTER = timedelta(seconds=20)


def provider_error(reason: str) -> DomainError:
    return DomainError("PROVIDER_ERROR", f"The WhatsApp gateway refused or failed: {reason}.", 502)


async def number_limit(uow: UnitOfWork, tenant_id: int) -> int:
    limits = await store.tenant_limits(uow, tenant_id)
    if limits and "whatsapp_numbers" in limits:
        return int(limits["whatsapp_numbers"])
    return PLAN_NUMBERS.get(current_principal().plan or "starter", 1)


class Instances:
    def __init__(
        self,
        db: Database,
        evolution: EvolutionClient,
        box: SecretBox,
        webhook_base: str,
        keys: WebhookKeys,
    ) -> None:
        self.db = db
        self.keys = keys
        self.evolution = evolution
        self.box = box
        self.webhook_base = webhook_base.rstrip("/")

    async def create(self, name: str | None) -> InstanceRow:
        secret = secrets.token_urlsafe(24)
        async with self.db.unit_of_work() as uow:
            tenant_id = uow.scope.tenant_id
            # One creation at a time per workspace, so two at once cannot pass the limit.
            await uow.conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('inbox.phone_instances'), :t)"),
                {"t": tenant_id},
            )
            limit = await number_limit(uow, tenant_id)
            if await store.count_instances(uow, tenant_id) >= limit:
                raise DomainError(
                    "PHONE_NUMBER_LIMIT_REACHED",
                    f"Your plan allows {limit} WhatsApp number(s). Upgrade to add more.",
                    409,
                )
            now = uow.clock.now()
            row = await store.insert_instance(
                uow,
                tenant_id=tenant_id,
                name=(name or "").strip() or "WhatsApp",
                instance_name=f"plixa-{tenant_id}-{secrets.token_hex(6)}",
                status="pending_qr",
                api_key=self.box.seal(""),
                webhook_secret_hash=secret_hash(secret),
                created_at=now,
                updated_at=now,
            )
        url = f"{self.webhook_base}/v1/webhooks/evolution/{row.instance_name}"
        try:
            created = await self.evolution.create_instance(row.instance_name, url, secret)
        except EvolutionError as exc:
            async with self.db.unit_of_work() as uow:
                await store.delete_instance(uow, row.tenant_id, row.id)
            raise provider_error(exc.reason) from None
        async with self.db.unit_of_work() as uow:
            now = uow.clock.now()
            return await store.update_instance(
                uow,
                row.id,
                api_key=self.box.seal(created.token),
                qr_code=created.qr_base64,
                qr_text=created.qr_code,
                qr_updated_at=now,
                updated_at=now,
            )

    async def list(self) -> list[InstanceRow]:
        async with self.db.reader() as uow:
            return await store.list_instances(uow, uow.scope.tenant_id)

    async def _get(self, instance_id: int) -> InstanceRow:
        async with self.db.reader() as uow:
            row = await store.get_instance(uow, uow.scope.tenant_id, instance_id)
        if row is None:
            raise not_found("Phone instance")
        return row

    async def get(self, instance_id: int) -> InstanceRow:
        """While pending_qr, a QR older than a few seconds is refreshed from Evolution."""
        row = await self._get(instance_id)
        if row.status != "pending_qr":
            return row
        async with self.db.reader() as uow:
            now = uow.clock.now()
        if row.qr_code and row.qr_updated_at and now - row.qr_updated_at < QR_REFRESH_AFTER:
            return row
        try:
            answer = await self.evolution.connect(row.instance_name, self.box.open(row.api_key))
        except EvolutionError as exc:
            log.warning("QR refresh failed for %s: %s", row.instance_name, exc.reason)
            return row
        if not answer.get("base64"):
            return row
        async with self.db.unit_of_work() as uow:
            current = await store.get_instance(uow, row.tenant_id, row.id, lock=True)
            if current is None or current.status != "pending_qr":
                return current or row
            return await store.update_instance(
                uow,
                row.id,
                qr_code=answer.get("base64"),
                qr_text=answer.get("code"),
                qr_updated_at=now,
                updated_at=now,
            )

    async def disconnect(self, instance_id: int) -> InstanceRow:
        row = await self._get(instance_id)
        try:
            await self.evolution.logout(row.instance_name, self.box.open(row.api_key))
        except EvolutionError as exc:
            if not exc.permanent:  # 400: already logged out upstream; fine
                raise provider_error(exc.reason) from None
        async with self.db.unit_of_work() as uow:
            now = uow.clock.now()
            current = await store.get_instance(uow, row.tenant_id, row.id, lock=True)
            if current is None:
                raise not_found("Phone instance")
            after = await store.update_instance(
                uow,
                row.id,
                status="disconnected",
                qr_code=None,
                qr_text=None,
                disconnected_at=now,
                updated_at=now,
            )
            if current.status != "disconnected":
                events.instance_changed(uow, after, connected=False, reason="logout")
            return after

    async def restart(self, instance_id: int) -> InstanceRow:
        row = await self._get(instance_id)
        answer: dict[str, object] = {}
        try:
            answer = await self.evolution.restart(row.instance_name, self.box.open(row.api_key))
        except EvolutionError as exc:
            if not exc.permanent:
                raise provider_error(exc.reason) from None
        async with self.db.unit_of_work() as uow:
            now = uow.clock.now()
            current = await store.get_instance(uow, row.tenant_id, row.id, lock=True)
            if current is None:
                raise not_found("Phone instance")
            fresh = isinstance(answer.get("base64"), str)
            after = await store.update_instance(
                uow,
                row.id,
                status="pending_qr",
                qr_code=answer.get("base64") if fresh else None,
                qr_text=answer.get("code") if fresh else None,
                qr_updated_at=now if fresh else None,
                updated_at=now,
            )
            if current.status == "connected":
                events.instance_changed(uow, after, connected=False, reason="restart")
            return after

    async def delete(self, instance_id: int) -> None:
        row = await self._get(instance_id)
        try:
            await self.evolution.delete(row.instance_name)
        except EvolutionError as exc:
            if not exc.permanent:
                raise provider_error(exc.reason) from None
        async with self.db.unit_of_work() as uow:
            if not await store.delete_instance(uow, row.tenant_id, row.id):
                raise not_found("Phone instance")
            if row.status == "connected":
                row.status = "disconnected"
                events.instance_changed(uow, row, connected=False, reason="deleted")
        self.keys.forget(row.instance_name)
