"""Workspace logos: PNG, JPEG or WebP as told by the bytes themselves (never by the name or the
declared type), at most 1 MB, stored under a random key in the storage directory (a volume in
Kubernetes). SVG is refused: it can carry script."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from services.kit.errors import invalid

MAX_BYTES = 1024 * 1024
KEY_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
CONTENT_TYPES = {ext: kind for kind, ext in KEY_EXTENSIONS.items()}


def sniff(data: bytes) -> str | None:
    """The image type the content really is, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check(data: bytes) -> str:
    if not data:
        raise invalid("logo", "The logo file is required.", "required")
    if len(data) > MAX_BYTES:
        raise invalid("logo", "The logo may not be larger than 1 MB.", "max")
    kind = sniff(data)
    if kind is None:
        raise invalid("logo", "The logo must be a PNG, JPEG or WebP image.", "mimes")
    return kind


class LogoStorage:
    def __init__(self, root: Path) -> None:
        self.folder = root / "logos"

    def save(self, data: bytes, kind: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        key = f"{uuid.uuid4().hex}.{KEY_EXTENSIONS[kind]}"
        temporary = self.folder / f".{key}.part"
        temporary.write_bytes(data)
        os.replace(temporary, self.folder / key)  # readers never see half a file
        return key

    def read(self, key: str) -> tuple[bytes, str] | None:
        name, _, ext = key.partition(".")
        if (
            ext not in CONTENT_TYPES
            or len(name) != 32
            or not all(c in "0123456789abcdef" for c in name)
        ):
            return None
        path = self.folder / key
        if not path.is_file():
            return None
        return path.read_bytes(), CONTENT_TYPES[ext]

    def delete(self, key: str) -> None:
        (self.folder / key).unlink(missing_ok=True)
