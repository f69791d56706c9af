"""Nager.Date's public-holidays API, locally: `GET /api/v3/PublicHolidays/{year}/{country}`.

Tests set `holidays[(year, country)]` and `failing` (answers 503 while set); by default every
country gets New Year's Day and Christmas. `python -m tests.fakes.holidays --port N` serves it."""

from __future__ import annotations

import argparse
import re
from typing import Any

from tests.fakes.httpfake import JsonFakeServer

PATH = re.compile(r"^/api/v3/PublicHolidays/(\d{4})/([A-Za-z]{2})$")


class HolidaysFake(JsonFakeServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.holidays: dict[tuple[int, str], list[tuple[str, str]]] = {}
        self.failing = False

    def respond(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any]:
        match = PATH.match(path)
        if method != "GET" or not match:
            return 404, None
        if self.failing:
            return 503, {"title": "Service Unavailable"}
        year, country = int(match.group(1)), match.group(2).upper()
        days = self.holidays.get(
            (year, country), [(f"{year}-01-01", "New Year's Day"), (f"{year}-12-25", "Christmas")]
        )
        return 200, [
            {
                "date": day,
                "localName": name,
                "name": name,
                "countryCode": country,
                "fixed": True,
                "global": True,
                "counties": None,
                "launchYear": None,
                "types": ["Public"],
            }
            for day, name in days
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = HolidaysFake(port=args.port)
    print(fake.url, flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
