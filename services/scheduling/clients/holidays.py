"""Public holidays from Nager.Date (../shared/spec/providers/others.md), through httpx."""

from __future__ import annotations

from datetime import date

import httpx


class HolidaysUnavailable(Exception):
    """The provider did not answer usefully; the toggle stays saved with synced=false."""


class Holidays:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def public_holidays(self, year: int, country: str) -> list[tuple[date, str]]:
        url = f"{self.base_url}/api/v3/PublicHolidays/{year}/{country}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            raise HolidaysUnavailable(f"{type(exc).__name__}") from exc
        if response.status_code == 204 or response.status_code == 404:
            return []  # Nager answers 404 for a country it does not know
        if response.status_code != 200:
            raise HolidaysUnavailable(f"status {response.status_code}")
        try:
            items = response.json()
            out = []
            for item in items:
                if "Public" in (item.get("types") or ["Public"]) and item.get("global", True):
                    out.append(
                        (
                            date.fromisoformat(item["date"]),
                            str(item.get("localName") or item.get("name") or ""),
                        )
                    )
            return out
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise HolidaysUnavailable("malformed answer") from exc
