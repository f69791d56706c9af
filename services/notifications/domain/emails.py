"""Emails: rendered from a template (a plain-text and an HTML part), queued in the caller's
transaction with an idempotency key, and sent by `EmailSender` through the provider (Resend's
HTTP API, others.md) with that key as its Idempotency-Key. A failed send is retried a few times
with backoff, then kept as `failed`."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.kit.clock import Clock
from services.kit.errors import invalid
from services.kit.validation import EMAIL_PATTERN
from services.notifications.store.emails import emails

log = logging.getLogger("plixa.notifications.email")
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _html(paragraphs: list[str], link: tuple[str, str] | None = None) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if link:
        body += f'<p><a href="{html.escape(link[1], quote=True)}">{html.escape(link[0])}</a></p>'
    return f"<!doctype html><html><body>{body}</body></html>"


def _text(paragraphs: list[str], link: tuple[str, str] | None = None) -> str:
    lines = list(paragraphs)
    if link:
        lines.append(f"{link[0]}: {link[1]}")
    return "\n\n".join(lines) + "\n"


def _render(subject: str, paragraphs: list[str], link: tuple[str, str] | None = None) -> Rendered:
    return Rendered(subject, _text(paragraphs, link), _html(paragraphs, link))


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def render(template: str, data: dict[str, str]) -> Rendered:
    """The email of a template; unknown templates and missing data are a 422 naming the field."""

    def need(key: str) -> str:
        value = data.get(key, "").strip()
        if not value:
            raise invalid(f"data.{key}", f"The {template} email needs {key}.", "required")
        return value

    if template == "invitation":
        workspace = data.get("workspace") or "a Plixa workspace"
        role = data.get("role", "agent")
        return _render(
            f"You're invited to {workspace} on Plixa",
            [
                f"You have been invited to join {workspace} on Plixa as {_article(role)} {role}.",
                f"The invitation expires on {data.get('expires_at', 'its expiry date')}.",
            ],
            ("Accept the invitation", need("url")),
        )
    if template == "deletion_notice":
        scope = data.get("scope", "user")
        what = "your workspace and all its data" if scope == "workspace" else "your Plixa account"
        if data.get("scheduled", "true") == "true":
            return _render(
                "Your Plixa deletion is scheduled",
                [
                    f"We received a request to delete {what}.",
                    "You can cancel it from the panel until the grace period ends.",
                ],
            )
        return _render(
            "Your Plixa deletion was cancelled", [f"The deletion of {what} was cancelled."]
        )
    if template == "endpoint_disabled":
        reason = data.get("reason", "failing")
        why = (
            "its receiver answered 410 Gone"
            if reason == "gone"
            else "every delivery to it has failed for 5 days"
        )
        return _render(
            "A Plixa webhook endpoint was disabled",
            [
                f"The webhook endpoint {need('url')} was disabled because {why}.",
                "Fix the receiver, enable the endpoint again and retry the failed deliveries.",
            ],
        )
    if template == "digest":
        lines = [data.get("summary", "")] + [
            f"{k.replace('_', ' ')}: {v}" for k, v in sorted(data.items()) if k.startswith("n_")
        ]
        return _render(need("subject"), [line for line in lines if line])
    if template in ("plain", "staff_reply", "campaign"):
        subject, body = need("subject"), need("text")
        rendered = _render(subject, body.split("\n\n"))
        if data.get("html"):
            return Rendered(subject, rendered.text, data["html"])
        return rendered
    raise invalid("template", f"Unknown email template: {template}.", "one_of")


def check_address(address: str) -> str:
    address = address.strip()
    if not EMAIL_PATTERN.match(address) or len(address) > 255:
        raise invalid("to", "The to field must be a valid email address.", "email")
    return address


async def enqueue(
    conn: AsyncConnection,
    *,
    template: str,
    to: str,
    data: dict[str, str],
    idempotency_key: str,
    tenant_id: int | None,
    now: datetime,
) -> tuple[int, str]:
    """Queues one email; the same key again returns the first one's (id, status)."""
    rendered = render(template, data)
    address = check_address(to)
    statement = (
        pg_insert(emails)
        .values(
            tenant_id=tenant_id or None,
            template=template,
            to_address=address,
            subject=rendered.subject,
            text_body=rendered.text,
            html_body=rendered.html,
            idempotency_key=idempotency_key,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(emails.c.id, emails.c.status)
    )
    row = (await conn.execute(statement)).first()
    if row is None:
        row = (
            await conn.execute(
                emails.select()
                .with_only_columns(emails.c.id, emails.c.status)
                .where(emails.c.idempotency_key == idempotency_key)
            )
        ).one()
    await conn.execute(text("NOTIFY notifications_emails"))
    return int(row.id), str(row.status)


_CLAIM = text(
    """
    UPDATE emails SET next_attempt_at = :lease
    WHERE id IN (
        SELECT id FROM emails WHERE status = 'queued' AND next_attempt_at <= :now
        ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
    )
    RETURNING id, to_address, subject, text_body, html_body, idempotency_key, attempts, tenant_id,
        template
    """
)


class EmailSender:
    """Sends queued emails (a periodic job: every replica may run it; rows are claimed)."""

    def __init__(
        self, engine: AsyncEngine, clock: Clock, *, api_url: str, api_key: str, sender: str
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.api_url = api_url
        self.api_key = api_key
        self.sender = sender
        self.client = httpx.AsyncClient(timeout=10.0, trust_env=False)

    async def run(self) -> None:
        """One tick of the periodic job: everything due, in batches."""
        while await self.tick() == 20:
            pass

    async def tick(self) -> int:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    _CLAIM, {"now": now, "lease": now + timedelta(seconds=60), "limit": 20}
                )
            ).all()
        for row in rows:
            await self.send(row)
        return len(rows)

    async def send(self, row: Any) -> None:
        body = {
            "from": self.sender,
            "to": [row.to_address],
            "subject": row.subject,
            "text": row.text_body,
            "html": row.html_body,
            "tags": [{"name": "template", "value": row.template}],
        }
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Idempotency-Key": row.idempotency_key[:256],
        }
        error: str | None = None
        provider_id: str | None = None
        permanent = False
        try:
            response = await self.client.post(f"{self.api_url}/emails", json=body, headers=headers)
            if response.status_code == 200:
                provider_id = str(response.json().get("id", ""))
            else:
                error = f"{response.status_code}: {response.text[:500]}"
                permanent = 400 <= response.status_code < 500 and response.status_code not in (
                    408,
                    409,
                    429,
                )
        except (httpx.HTTPError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        now = self.clock.now()
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_error": error}
        if provider_id is not None:
            values.update(status="sent", provider_id=provider_id, sent_at=now)
        elif permanent or attempts >= MAX_ATTEMPTS:
            values.update(status="failed")
            log.warning("email %s failed: %s", row.id, error)
        else:
            values.update(next_attempt_at=now + timedelta(seconds=min(2**attempts, 300)))
        async with self.engine.begin() as conn:
            await conn.execute(emails.update().where(emails.c.id == row.id).values(**values))

    async def close(self) -> None:
        await self.client.aclose()
