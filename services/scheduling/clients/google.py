"""Google OAuth and the Calendar API parts we use (../shared/spec/providers/others.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

SCOPES = "https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.freebusy"


class GoogleUnavailable(Exception):
    """Google did not answer usefully (network, 5xx, malformed); try again later."""


class GrantRevoked(Exception):
    """The refresh token (or the code) was refused: invalid_grant. The link is broken."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str | None


@dataclass(frozen=True)
class GoogleConfig:
    client_id: str
    client_secret: str
    auth_url: str
    token_url: str
    api_url: str
    redirect_uri: str

    @property
    def enabled(self) -> bool:
        return bool(self.client_id and self.client_secret)


class Google:
    def __init__(self, config: GoogleConfig, timeout: float = 5.0) -> None:
        self.config = config
        self.timeout = timeout

    async def _post(self, url: str, **kwargs: Any) -> httpx.Response:
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                return await client.post(url, **kwargs)
        except httpx.HTTPError as exc:
            raise GoogleUnavailable(type(exc).__name__) from exc

    async def _token(self, form: dict[str, str]) -> Tokens:
        response = await self._post(self.config.token_url, data=form)
        if response.status_code == 400 and _error(response) == "invalid_grant":
            raise GrantRevoked("invalid_grant")
        if response.status_code != 200:
            raise GoogleUnavailable(f"token endpoint answered {response.status_code}")
        try:
            body = response.json()
            return Tokens(
                str(body["access_token"]),
                int(body.get("expires_in", 3600)),
                body.get("refresh_token"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise GoogleUnavailable("malformed token answer") from exc

    async def exchange_code(self, code: str) -> Tokens:
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "redirect_uri": self.config.redirect_uri,
            }
        )

    async def refresh(self, refresh_token: str) -> Tokens:
        return await self._token(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
            }
        )

    async def free_busy(
        self, access_token: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        response = await self._post(
            f"{self.config.api_url}/calendar/v3/freeBusy",
            headers={"Authorization": f"Bearer {access_token}"},
            json={
                "timeMin": start.astimezone(UTC).isoformat(),
                "timeMax": end.astimezone(UTC).isoformat(),
                "timeZone": "UTC",
                "items": [{"id": "primary"}],
            },
        )
        if response.status_code == 401:
            raise GrantRevoked("access token refused")
        if response.status_code != 200:
            raise GoogleUnavailable(f"freeBusy answered {response.status_code}")
        try:
            busy = response.json()["calendars"]["primary"]["busy"]
            return [(_instant(b["start"]), _instant(b["end"])) for b in busy]
        except (ValueError, KeyError, TypeError) as exc:
            raise GoogleUnavailable("malformed freeBusy answer") from exc

    async def insert_event(
        self,
        access_token: str,
        summary: str,
        start: datetime,
        end: datetime,
        timezone: str,
        appointment_id: int,
    ) -> str:
        response = await self._post(
            f"{self.config.api_url}/calendar/v3/calendars/primary/events",
            params={"sendUpdates": "none"},
            headers={"Authorization": f"Bearer {access_token}"},
            json={
                "summary": summary,
                "description": "Booked in Plixa",
                "start": {"dateTime": start.isoformat(), "timeZone": timezone},
                "end": {"dateTime": end.isoformat(), "timeZone": timezone},
                "extendedProperties": {"private": {"appointmentId": str(appointment_id)}},
            },
        )
        if response.status_code == 401:
            raise GrantRevoked("access token refused")
        if response.status_code not in (200, 201):
            raise GoogleUnavailable(f"events insert answered {response.status_code}")
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise GoogleUnavailable("malformed event answer") from exc


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except ValueError:
        return ""


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
