"""Evolution's webhook payloads read into plain values (../shared/spec/providers/evolution.md).
Pure functions: nothing here touches the database."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_TEXT = 65_536
MAX_THUMBNAIL = 16_384  # base64 characters of a preview kept with the message
_DIGITS = re.compile(r"\D+")
_VCARD_PHONE = re.compile(r"waid=(\d+)|TEL[^:]*:([+\d][\d \-()]*)")

RECEIPTS = {
    "SERVER_ACK": "sent",
    "DELIVERY_ACK": "delivered",
    "READ": "read",
    "PLAYED": "read",
    "ERROR": "failed",
}


def digits(value: str) -> str:
    return _DIGITS.sub("", value)


def phone_of_jid(jid: str) -> str | None:
    """The phone digits of a personal JID ("5511...@s.whatsapp.net", "5511...:3@s..."); None
    for groups, broadcasts and anything else."""
    user, _, server = jid.partition("@")
    if server not in ("s.whatsapp.net", "c.us"):
        return None
    phone = digits(user.split(":", 1)[0])
    return phone or None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, dict) and isinstance(value.get("low"), int):  # protobuf Long
        return int(value["low"]) + (int(value.get("high") or 0) << 32)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if isinstance(value, str) and value.strip():
        return value[:limit]
    return None


def stamp_of(value: Any, fallback: datetime) -> datetime:
    seconds = _int(value)
    if seconds is None or seconds <= 0:
        return fallback
    if seconds > 10**11:  # milliseconds
        seconds //= 1000
    return datetime.fromtimestamp(seconds, UTC)


def _waveform(value: Any) -> list[int]:
    if isinstance(value, list):
        return [max(0, min(100, int(v))) for v in value if isinstance(v, int)][:256]
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError):
            return []
        return [min(100, b) for b in raw[:256]]
    return []


@dataclass
class InboundMessage:
    whatsapp_message_id: str
    phone: str
    from_me: bool
    push_name: str | None
    sent_at: datetime
    type: str
    body: str | None = None
    caption: str | None = None
    media: dict[str, Any] | None = None
    quoted_whatsapp_id: str | None = None


@dataclass
class Receipt:
    whatsapp_message_id: str
    status: str  # sent | delivered | read | failed
    from_me: bool = False  # about a message we (or the phone itself) sent


@dataclass
class ConnectionChange:
    state: str  # open | close | connecting | refused
    phone: str | None = None
    profile_name: str | None = None


@dataclass
class QrChange:
    base64: str | None
    code: str | None
    limit_reached: bool = False


@dataclass
class Ignored:
    why: str


@dataclass
class Envelope:
    event: str
    instance: str
    data: Any = field(default=None)


def envelope_of(body: Any) -> Envelope | None:
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        return None
    event = body["event"].lower().replace("_", ".")
    return Envelope(event, str(body.get("instance") or ""), body.get("data"))


def read_upsert(data: Any, now: datetime) -> InboundMessage | Ignored:
    """One messages.upsert item (Evolution may also send a list under data.messages)."""
    if not isinstance(data, dict):
        return Ignored("no data")
    key: dict[str, Any] = data["key"] if isinstance(data.get("key"), dict) else {}
    wa_id = key.get("id")
    jid = str(key.get("remoteJid") or "")
    if jid.endswith("@lid"):
        jid = str(key.get("remoteJidAlt") or "")
    phone = phone_of_jid(jid)
    if not isinstance(wa_id, str) or not wa_id or phone is None:
        return Ignored("not a personal chat message")
    message: dict[str, Any] = data["message"] if isinstance(data.get("message"), dict) else {}
    parsed = InboundMessage(
        whatsapp_message_id=wa_id[:128],
        phone=phone,
        from_me=bool(key.get("fromMe")),
        push_name=_text(data.get("pushName"), 255),
        sent_at=stamp_of(data.get("messageTimestamp"), now),
        type="unsupported",
    )
    context = data["contextInfo"] if isinstance(data.get("contextInfo"), dict) else None
    _read_content(parsed, message, context)
    return parsed


def _read_content(
    m: InboundMessage, message: dict[str, Any], context: dict[str, Any] | None
) -> None:
    inner: dict[str, Any] = {}
    if isinstance(message.get("conversation"), str):
        m.type, m.body = "text", _text(message["conversation"])
    elif isinstance(message.get("extendedTextMessage"), dict):
        inner = message["extendedTextMessage"]
        m.type, m.body = "text", _text(inner.get("text"))
    elif isinstance(message.get("imageMessage"), dict):
        inner = message["imageMessage"]
        m.type, m.caption = "image", _text(inner.get("caption"), 4096)
        m.media = _file_meta(inner)
    elif isinstance(message.get("videoMessage"), dict):
        inner = message["videoMessage"]
        m.type, m.caption = "video", _text(inner.get("caption"), 4096)
        m.media = _file_meta(inner)
    elif isinstance(message.get("audioMessage"), dict):
        inner = message["audioMessage"]
        m.type = "audio"
        m.media = _file_meta(inner)
        m.media["voice"] = bool(inner.get("ptt"))
        waveform = _waveform(inner.get("waveform"))
        if waveform:
            m.media["waveform"] = waveform
    elif isinstance(message.get("documentMessage"), dict) or isinstance(
        message.get("documentWithCaptionMessage"), dict
    ):
        inner = message.get("documentMessage") or {}
        if not inner:
            wrapped = message["documentWithCaptionMessage"].get("message") or {}
            inner = wrapped.get("documentMessage") or {}
        m.type, m.caption = "document", _text(inner.get("caption"), 4096)
        m.media = _file_meta(inner)
    elif isinstance(message.get("stickerMessage"), dict):
        inner = message["stickerMessage"]
        m.type = "sticker"
        m.media = _file_meta(inner)
    elif isinstance(message.get("locationMessage"), dict):
        inner = message["locationMessage"]
        m.type = "location"
        m.media = _clean(
            {
                "latitude": _float(inner.get("degreesLatitude")),
                "longitude": _float(inner.get("degreesLongitude")),
                "location_name": _text(inner.get("name"), 255),
                "location_address": _text(inner.get("address"), 500),
            }
        )
    elif isinstance(message.get("contactMessage"), dict):
        inner = message["contactMessage"]
        m.type = "contact"
        vcard = str(inner.get("vcard") or "")
        phones = [digits(a or b) for a, b in _VCARD_PHONE.findall(vcard)]
        m.media = _clean(
            {
                "contact_display_name": _text(inner.get("displayName"), 255),
                "contact_phones": list(dict.fromkeys(p for p in phones if p))[:10],
            }
        )
    elif isinstance(message.get("reactionMessage"), dict):
        inner = message["reactionMessage"]
        m.type = "reaction"
        target: dict[str, Any] = inner["key"] if isinstance(inner.get("key"), dict) else {}
        m.quoted_whatsapp_id = _text(target.get("id"), 128)
        m.media = {"reaction_emoji": str(inner.get("text") or "")[:32]}
        m.body = _text(inner.get("text"), 32)
    quoted = (inner.get("contextInfo") if isinstance(inner, dict) else None) or context
    if m.type != "reaction" and isinstance(quoted, dict):
        m.quoted_whatsapp_id = _text(quoted.get("stanzaId"), 128)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}


def _file_meta(inner: dict[str, Any]) -> dict[str, Any]:
    thumbnail = inner.get("jpegThumbnail")
    return _clean(
        {
            "mimetype": _text(inner.get("mimetype"), 100),
            "file_name": _text(inner.get("fileName") or inner.get("title"), 255),
            "size_bytes": _int(inner.get("fileLength")),
            "duration_seconds": _int(inner.get("seconds")),
            "width": _int(inner.get("width")),
            "height": _int(inner.get("height")),
            "page_count": _int(inner.get("pageCount")),
            "url": _text(inner.get("url"), 2048),
            "thumbnail": thumbnail
            if isinstance(thumbnail, str) and len(thumbnail) <= MAX_THUMBNAIL
            else None,
        }
    )


def read_receipt(data: Any) -> Receipt | Ignored:
    if not isinstance(data, dict):
        return Ignored("no data")
    wa_id = data.get("keyId")
    if not wa_id and isinstance(data.get("key"), dict):
        wa_id = data["key"].get("id")
    status = RECEIPTS.get(str(data.get("status") or "").upper())
    if not isinstance(wa_id, str) or not wa_id or status is None:
        return Ignored("not a receipt we track")
    return Receipt(wa_id[:128], status, data.get("fromMe") is True)


def read_connection(data: Any) -> ConnectionChange | Ignored:
    if not isinstance(data, dict) or not isinstance(data.get("state"), str):
        return Ignored("no state")
    wuid = str(data.get("wuid") or "")
    return ConnectionChange(
        state=data["state"],
        phone=phone_of_jid(wuid) if wuid else None,
        profile_name=_text(data.get("profileName"), 255),
    )


def read_qr(data: Any) -> QrChange | Ignored:
    if not isinstance(data, dict):
        return Ignored("no data")
    qrcode = data.get("qrcode")
    if isinstance(qrcode, dict):
        return QrChange(_text(qrcode.get("base64"), 200_000), _text(qrcode.get("code"), 2048))
    if data.get("statusCode") == 500 or "limit" in str(data.get("message") or "").lower():
        return QrChange(None, None, limit_reached=True)
    return Ignored("no qrcode")


def upsert_items(data: Any) -> list[Any]:
    """messages.upsert carries one message, or (some versions) {"messages": [...]}."""
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return list(data["messages"])
    if isinstance(data, list):
        return data
    return [data]


def preview(m: InboundMessage) -> str:
    """The conversation list's last-message line."""
    if m.body:
        return m.body[:200]
    if m.caption:
        return m.caption[:200]
    return f"[{m.type}]"
