"""Evolution's payloads read into plain values, and the media rules: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.inbox.domain import media
from services.inbox.domain import whatsapp as wa
from services.kit.errors import DomainError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def upsert(message: dict[str, object], **key: object) -> wa.InboundMessage:
    data = {
        "key": {"remoteJid": "5511999990000@s.whatsapp.net", "fromMe": False, "id": "ABC", **key},
        "pushName": "Ana",
        "message": message,
        "messageTimestamp": "1730000000",
    }
    parsed = wa.read_upsert(data, NOW)
    assert isinstance(parsed, wa.InboundMessage)
    return parsed


def test_text_and_timestamps() -> None:
    m = upsert({"conversation": "oi"})
    assert (m.type, m.body, m.phone, m.push_name) == ("text", "oi", "5511999990000", "Ana")
    assert m.sent_at == datetime.fromtimestamp(1_730_000_000, UTC)
    assert wa.stamp_of(1_730_000_000_123, NOW) == datetime.fromtimestamp(1_730_000_000, UTC)
    assert wa.stamp_of(None, NOW) == NOW


def test_lid_addressing_uses_the_alternate_jid() -> None:
    m = upsert(
        {"conversation": "x"},
        remoteJid="123456@lid",
        addressingMode="lid",
        remoteJidAlt="5521988887777@s.whatsapp.net",
    )
    assert m.phone == "5521988887777"


@pytest.mark.parametrize("jid", ["120363@g.us", "status@broadcast", "", "abc@lid"])
def test_groups_broadcasts_and_unknown_chats_are_ignored(jid: str) -> None:
    data = {"key": {"remoteJid": jid, "id": "X"}, "message": {"conversation": "x"}}
    assert isinstance(wa.read_upsert(data, NOW), wa.Ignored)


def test_garbage_is_ignored_not_raised() -> None:
    garbage: list[object] = [None, [], "x", {"key": "nope"}, {"key": {"id": 5}}]
    for data in garbage:
        assert isinstance(wa.read_upsert(data, NOW), wa.Ignored)
    assert wa.envelope_of({"no": "event"}) is None
    assert wa.envelope_of({"event": "MESSAGES_UPSERT"}).event == "messages.upsert"  # type: ignore[union-attr]


def test_quoted_reply_from_context_info() -> None:
    m = upsert(
        {"extendedTextMessage": {"text": "sim", "contextInfo": {"stanzaId": "Q1"}}},
    )
    assert (m.type, m.body, m.quoted_whatsapp_id) == ("text", "sim", "Q1")


def test_document_with_caption_wrapper_and_long_sizes() -> None:
    m = upsert(
        {
            "documentWithCaptionMessage": {
                "message": {
                    "documentMessage": {
                        "fileName": "a.pdf",
                        "fileLength": {"low": 10, "high": 1},
                        "caption": "veja",
                    }
                }
            }
        }
    )
    assert m.type == "document" and m.caption == "veja"
    assert m.media == {"file_name": "a.pdf", "size_bytes": 10 + (1 << 32)}


def test_unknown_message_kind_is_kept_as_unsupported() -> None:
    assert upsert({"pollCreationMessage": {"name": "?"}}).type == "unsupported"


def test_receipts_connection_and_qr() -> None:
    assert wa.read_receipt({"keyId": "K", "status": "READ"}) == wa.Receipt("K", "read")
    assert wa.read_receipt({"keyId": "K", "status": "PLAYED"}) == wa.Receipt("K", "read")
    assert isinstance(wa.read_receipt({"keyId": "K", "status": "DELETED"}), wa.Ignored)
    change = wa.read_connection({"state": "open", "wuid": "5511@s.whatsapp.net"})
    assert change == wa.ConnectionChange("open", "5511", None)
    limit = wa.read_qr({"message": "QR code limit reached, please login again", "statusCode": 500})
    assert isinstance(limit, wa.QrChange) and limit.limit_reached


def test_media_rules() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 10
    assert media.check(png, "application/octet-stream", "x.bin", False).mediatype == "image"
    pdf = media.check(b"%PDF-1.4", None, None, False)
    assert pdf.mediatype == "document" and pdf.file_name == "document.pdf"
    with pytest.raises(DomainError) as gif:
        media.check(b"GIF89a", "image/gif", "a.gif", False)
    assert gif.value.http_status == 415
    with pytest.raises(DomainError) as exe:
        media.check(b"MZ\x90\x00", None, "a.exe", False)
    assert exe.value.http_status == 415
    with pytest.raises(DomainError) as voice:
        media.check(png, "image/png", "a.png", True)
    assert voice.value.http_status == 422
    with pytest.raises(DomainError) as big:
        media.check(png + b"\0" * (5 * 1024 * 1024), "image/png", "a.png", False)
    assert big.value.code == "MEDIA_TOO_LARGE"
