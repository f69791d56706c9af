"""What WhatsApp accepts as media (type by content, size per kind), checked before a send."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from services.kit.errors import DomainError, invalid

MB = 1024 * 1024
# WhatsApp Business limits: images 5 MB, video and audio 16 MB, documents 100 MB.
LIMITS = {"image": 5 * MB, "video": 16 * MB, "audio": 16 * MB, "document": 100 * MB}
IMAGE_TYPES = {"image/jpeg", "image/png"}
VIDEO_TYPES = {"video/mp4", "video/3gpp"}
AUDIO_TYPES = {"audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg", "audio/opus"}
DOCUMENT_BLOCKED = {"application/x-msdownload", "application/x-sh", "application/x-executable"}


@dataclass(frozen=True)
class CheckedMedia:
    mediatype: str  # image | video | audio | document
    mimetype: str
    file_name: str | None


def sniff(data: bytes) -> str | None:
    """The type the content says it is, for the kinds we can tell by their first bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if data.startswith(b"#!AMR"):
        return "audio/amr"
    if len(data) > 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand.startswith(b"3g"):
            return "video/3gpp"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/mp4"
    if data.startswith(b"%PDF"):
        return "application/pdf"
    if data.startswith(b"MZ"):
        return "application/x-msdownload"
    return None


def unsupported(message: str) -> DomainError:
    return DomainError("UNSUPPORTED_MEDIA_TYPE", message, 415)


def check(data: bytes, declared: str | None, file_name: str | None, voice: bool) -> CheckedMedia:
    if not data:
        raise invalid("file", "The file is empty.", "required")
    declared = (declared or "").split(";")[0].strip().lower() or None
    guessed = mimetypes.guess_type(file_name or "")[0] if file_name else None
    mimetype = sniff(data) or declared or guessed or "application/octet-stream"
    if mimetype in IMAGE_TYPES:
        kind = "image"
    elif mimetype in VIDEO_TYPES:
        kind = "video"
    elif mimetype in AUDIO_TYPES:
        kind = "audio"
    elif mimetype.startswith(("image/", "video/", "audio/")):
        raise unsupported(f"WhatsApp does not take {mimetype} as media; send it as a document.")
    elif mimetype in DOCUMENT_BLOCKED:
        raise unsupported("Executable files cannot be sent.")
    else:
        kind = "document"
    if voice and kind != "audio":
        raise invalid("voice", "Only an audio file can be sent as a voice note.")
    if len(data) > LIMITS[kind]:
        raise DomainError(
            "MEDIA_TOO_LARGE",
            f"WhatsApp takes {kind} files up to {LIMITS[kind] // MB} MB.",
            413,
        )
    if kind == "document" and not file_name:
        file_name = "document" + (mimetypes.guess_extension(mimetype) or "")
    return CheckedMedia(kind, mimetype, file_name)
