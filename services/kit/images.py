"""Uploaded pictures (workspace logos, help-centre images): PNG, JPEG or WebP, told by their
first bytes, never by the name or type the uploader declared."""

from __future__ import annotations

from services.kit.errors import invalid

MB = 1024 * 1024
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
CONTENT_TYPES = {ext: kind for kind, ext in EXTENSIONS.items()}


def sniff(data: bytes) -> str | None:
    """The image type the content really is, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def checked_image(data: bytes, field_name: str, max_bytes: int) -> str:
    """The content type of an uploaded picture; 422 on `field_name` when it is missing, larger
    than `max_bytes` (whole megabytes) or not a PNG, JPEG or WebP image."""
    if not data:
        raise invalid(field_name, f"The {field_name} file is required.", "required")
    if len(data) > max_bytes:
        limit = f"{max_bytes // MB} MB"
        raise invalid(field_name, f"The {field_name} may not be larger than {limit}.", "max")
    kind = sniff(data)
    if kind is None:
        raise invalid(field_name, f"The {field_name} must be a PNG, JPEG or WebP image.", "mimes")
    return kind
