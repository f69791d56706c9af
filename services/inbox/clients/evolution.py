"""Evolution API v2 over HTTP (../shared/spec/providers/evolution.md): the only place inbox
speaks Evolution's wire format on the way out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

WEBHOOK_EVENTS = [
    "MESSAGES_UPSERT",
    "MESSAGES_UPDATE",
    "CONNECTION_UPDATE",
    "QRCODE_UPDATED",
    "SEND_MESSAGE",
]
SECRET_HEADER = "x-plixa-instance-secret"


class EvolutionError(Exception):
    """Evolution refused or could not be reached; `reason` is safe to store and show."""

    def __init__(self, reason: str, status: int = 0, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.permanent = permanent  # retrying the same request cannot succeed


@dataclass(frozen=True)
class CreatedInstance:
    token: str
    qr_base64: str | None
    qr_code: str | None


@dataclass(frozen=True)
class SentMessage:
    whatsapp_message_id: str
    timestamp: int | None


def _reason(body: Any, status: int) -> str:
    if isinstance(body, dict):
        response = body.get("response")
        messages = response.get("message") if isinstance(response, dict) else body.get("message")
        if isinstance(messages, list) and messages:
            first = messages[0]
            if isinstance(first, dict) and first.get("exists") is False:
                return "number_not_on_whatsapp"
            return str(first)[:300]
        if isinstance(messages, str):
            return messages[:300]
    return f"evolution_http_{status}"


class EvolutionClient:
    def __init__(self, base_url: str, global_key: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.global_key = global_key
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, path: str, key: str | None = None, body: Any = None
    ) -> Any:
        try:
            response = await self._http.request(
                method, path, json=body, headers={"apikey": key or self.global_key}
            )
        except httpx.TimeoutException as exc:
            raise EvolutionError("evolution_timeout") from exc
        except httpx.HTTPError as exc:
            raise EvolutionError("evolution_unreachable") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 400:
            permanent = response.status_code in (400, 401, 403, 404, 422)
            raise EvolutionError(
                _reason(answer, response.status_code), response.status_code, permanent
            )
        if isinstance(answer, dict) and answer.get("error") is True:
            raise EvolutionError(str(answer.get("message") or "evolution_error")[:300], 200, True)
        return answer

    async def create_instance(
        self, instance_name: str, webhook_url: str, webhook_secret: str
    ) -> CreatedInstance:
        answer = await self._request(
            "POST",
            "/instance/create",
            body={
                "instanceName": instance_name,
                "qrcode": True,
                "integration": "WHATSAPP-BAILEYS",
                "rejectCall": False,
                "groupsIgnore": True,
                "readMessages": False,
                "webhook": {
                    "url": webhook_url,
                    "byEvents": False,
                    "base64": False,
                    "headers": {SECRET_HEADER: webhook_secret},
                    "events": WEBHOOK_EVENTS,
                },
            },
        )
        qr = answer.get("qrcode") or {}
        return CreatedInstance(
            token=str(answer.get("hash") or ""), qr_base64=qr.get("base64"), qr_code=qr.get("code")
        )

    async def connect(self, instance: str, key: str) -> dict[str, Any]:
        """The QR while pairing ({"code", "base64"}), or the connection state when open."""
        answer = await self._request("GET", f"/instance/connect/{instance}", key)
        return answer if isinstance(answer, dict) else {}

    async def restart(self, instance: str, key: str) -> dict[str, Any]:
        answer = await self._request("POST", f"/instance/restart/{instance}", key)
        return answer if isinstance(answer, dict) else {}

    async def logout(self, instance: str, key: str) -> None:
        await self._request("DELETE", f"/instance/logout/{instance}", key)

    async def delete(self, instance: str) -> None:
        await self._request("DELETE", f"/instance/delete/{instance}")

    async def send_text(
        self, instance: str, key: str, number: str, text: str, quoted: dict[str, Any] | None
    ) -> SentMessage:
        body: dict[str, Any] = {"number": number, "text": text, "linkPreview": False}
        if quoted:
            body["quoted"] = quoted
        return _sent(await self._request("POST", f"/message/sendText/{instance}", key, body))

    async def send_media(
        self,
        instance: str,
        key: str,
        number: str,
        *,
        mediatype: str,
        mimetype: str,
        media_base64: str,
        caption: str | None,
        file_name: str | None,
    ) -> SentMessage:
        body: dict[str, Any] = {
            "number": number,
            "mediatype": mediatype,
            "mimetype": mimetype,
            "media": media_base64,
        }
        if caption:
            body["caption"] = caption
        if file_name:
            body["fileName"] = file_name
        return _sent(await self._request("POST", f"/message/sendMedia/{instance}", key, body))

    async def send_voice(
        self, instance: str, key: str, number: str, audio_base64: str
    ) -> SentMessage:
        body = {"number": number, "audio": audio_base64, "encoding": True}
        return _sent(
            await self._request("POST", f"/message/sendWhatsAppAudio/{instance}", key, body)
        )


def _sent(answer: Any) -> SentMessage:
    key = answer.get("key") if isinstance(answer, dict) else None
    if not isinstance(key, dict) or not key.get("id"):
        raise EvolutionError("evolution_bad_answer")
    stamp = answer.get("messageTimestamp")
    return SentMessage(
        str(key["id"]),
        int(stamp) if isinstance(stamp, int | str) and str(stamp).isdigit() else None,
    )
