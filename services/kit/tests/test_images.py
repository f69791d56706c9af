"""Uploaded pictures are told by their bytes; a bad one is a 422 on the caller's field."""

from __future__ import annotations

import pytest

from services.kit.errors import DomainError
from services.kit.images import checked_image, sniff

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 16
WEBP = b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 8
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def test_the_bytes_say_the_type() -> None:
    assert [sniff(d) for d in (PNG, JPEG, WEBP, SVG, b"")] == [
        "image/png",
        "image/jpeg",
        "image/webp",
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (b"", "required", "The logo file is required."),
        (PNG + b"\0" * 1024 * 1024, "max", "The logo may not be larger than 1 MB."),
        (SVG, "mimes", "The logo must be a PNG, JPEG or WebP image."),
    ],
)
def test_a_bad_picture_is_refused_on_its_field(data: bytes, code: str, message: str) -> None:
    with pytest.raises(DomainError) as refused:
        checked_image(data, "logo", 1024 * 1024)
    assert (refused.value.code, refused.value.http_status) == ("VALIDATION_FAILED", 422)
    [problem] = refused.value.fields
    assert (problem.field, problem.code, problem.message) == ("logo", code, message)
    assert checked_image(WEBP, "logo", 1024 * 1024) == "image/webp"
