"""Workspace logos: PNG, JPEG or WebP as told by the bytes themselves (never by the name or the
declared type), at most 1 MB, stored under a random key in the storage directory (a volume in
Kubernetes). SVG is refused: it can carry script."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from services.kit.images import CONTENT_TYPES, EXTENSIONS, checked_image

MAX_BYTES = 1024 * 1024


def check(data: bytes) -> str:
    return checked_image(data, "logo", MAX_BYTES)


class LogoStorage:
    def __init__(self, root: Path) -> None:
        self.folder = root / "logos"

    def save(self, data: bytes, kind: str) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        key = f"{uuid.uuid4().hex}.{EXTENSIONS[kind]}"
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
