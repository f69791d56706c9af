"""Google's OAuth token endpoint and the Calendar API parts we use, locally.

- `POST /token` (form): `grant_type=authorization_code` (a code from `issue_code`) or
  `grant_type=refresh_token`; a revoked refresh token answers 400 `{"error": "invalid_grant"}`.
- `POST /calendar/v3/freeBusy` → `{"calendars": {"primary": {"busy": [...]}}}` for the bearer's
  account (`busy[email]`, ISO-8601 pairs).
- `POST /calendar/v3/calendars/{calendarId}/events?sendUpdates=none` → the event with an `id`
  (kept in `events[email]`).
`python -m tests.fakes.google --port N` serves it (its consent page, `GET /o/oauth2/v2/auth`,
redirects straight back with a code for `local@example.com`)."""

from __future__ import annotations

import argparse
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode

from tests.fakes.httpfake import JsonFakeServer


class GoogleFake(JsonFakeServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.codes: dict[str, str] = {}  # code -> email
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> email
        self.access_tokens: dict[str, str] = {}  # access token -> email
        self.revoked: set[str] = set()  # emails whose grants were revoked
        self.busy: dict[str, list[tuple[str, str]]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.failing = False

    def issue_code(self, email: str) -> str:
        code = "code-" + secrets.token_hex(8)
        with self.lock:
            self.codes[code] = email
        return code

    def revoke(self, email: str) -> None:
        with self.lock:
            self.revoked.add(email)
            self.access_tokens = {t: e for t, e in self.access_tokens.items() if e != email}

    def _new_access(self, email: str) -> dict[str, Any]:
        token = "ya29." + secrets.token_hex(12)
        self.access_tokens[token] = email
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def respond(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any]:
        if self.failing:
            return 503, {"error": {"code": 503, "message": "Backend Error"}}
        with self.lock:
            if method == "GET" and path == "/o/oauth2/v2/auth":
                code = "code-" + secrets.token_hex(8)
                self.codes[code] = "local@example.com"
                back = urlencode({"code": code, "state": query.get("state", "")})
                target = f"{query.get('redirect_uri', '')}?{back}"
                return 200, {"redirect": target}
            if method == "POST" and path == "/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                grant = form.get("grant_type")
                if grant == "authorization_code":
                    email = self.codes.pop(form.get("code", ""), None)
                    if email is None:
                        return 400, {"error": "invalid_grant"}
                    self.revoked.discard(email)
                    refresh = "1//" + secrets.token_hex(12)
                    self.refresh_tokens[refresh] = email
                    return 200, {
                        **self._new_access(email),
                        "refresh_token": refresh,
                        "scope": "https://www.googleapis.com/auth/calendar",
                    }
                if grant == "refresh_token":
                    email = self.refresh_tokens.get(form.get("refresh_token", ""))
                    if email is None or email in self.revoked:
                        return 400, {
                            "error": "invalid_grant",
                            "error_description": "Token has been expired or revoked.",
                        }
                    return 200, self._new_access(email)
                return 400, {"error": "unsupported_grant_type"}
            email = self.access_tokens.get(headers.get("Authorization", "").removeprefix("Bearer "))
            if email is None:
                return 401, {"error": {"code": 401, "message": "Invalid Credentials"}}
            if method == "POST" and path == "/calendar/v3/freeBusy":
                busy = [{"start": s, "end": e} for s, e in self.busy.get(email, [])]
                return 200, {"kind": "calendar#freeBusy", "calendars": {"primary": {"busy": busy}}}
            if (
                method == "POST"
                and path.startswith("/calendar/v3/calendars/")
                and path.endswith("/events")
            ):
                event = json.loads(body or b"{}")
                event["id"] = "evt" + secrets.token_hex(6)
                event["status"] = "confirmed"
                self.events.setdefault(email, []).append(event)
                return 200, event
        return 404, {"error": {"code": 404, "message": "Not Found"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = GoogleFake(port=args.port)
    print(fake.url, flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
