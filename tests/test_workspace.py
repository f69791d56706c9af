"""Workspace settings and the logo upload (multipart into a bytes field, checked by content)."""

from __future__ import annotations

from pathlib import Path

import httpx

from scripts.mesh import Stack
from tests.conftest import bearer, error_fields, register, sql
from tests.test_team import join

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))
JPEG = b"\xff\xd8\xff\xe0" + bytes(300)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(100)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def upload(api: httpx.Client, token: str, content: bytes, name: str = "logo.png") -> httpx.Response:
    return api.post(
        "/v1/workspace-config/logo",
        headers=bearer(token),
        files={"logo": (name, content, "image/png")},
    )


def logo_files(stack: Stack) -> set[str]:
    folder = Path(stack.env()["PLIXA_STORAGE_DIR"]) / "logos"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_settings_are_validated_owner_only_and_announced(api: httpx.Client, stack: Stack) -> None:
    owner = register(api, timezone="America/Sao_Paulo")
    headers = bearer(owner["token"])
    assert api.get("/v1/workspace-config", headers=headers).json()["data"] == {
        "name": "Lucia Studios",
        "timezone": "America/Sao_Paulo",
        "locale": "pt",
        "currency": "USD",
        "logo_url": None,
    }
    bad = api.put(
        "/v1/workspace-config",
        headers=headers,
        json={"timezone": "America/Sao Paulo", "currency": "REAIS", "locale": "??"},
    )
    assert bad.status_code == 422 and error_fields(bad) == {"timezone", "currency", "locale"}
    good = api.put(
        "/v1/workspace-config",
        headers=headers,
        json={"timezone": "Asia/Yekaterinburg", "locale": "sr_BA", "currency": "brl"},
    )
    assert good.status_code == 200
    assert good.json()["data"] | {"logo_url": None} == {
        "name": "Lucia Studios",
        "timezone": "Asia/Yekaterinburg",
        "locale": "sr_BA",
        "currency": "BRL",
        "logo_url": None,
    }
    rows = sql(
        stack,
        "SELECT count(*) AS n FROM identity.outbox WHERE subject = 'identity.workspace.changed'"
        " AND tenant_id = $1",
        owner["tenant"]["id"],
    )
    assert rows[0]["n"] == 1
    agent = join(api, owner["token"])
    assert api.get("/v1/workspace-config", headers=bearer(agent["token"])).status_code == 200
    refused = api.put(
        "/v1/workspace-config", headers=bearer(agent["token"]), json={"currency": "EUR"}
    )
    assert refused.status_code == 403


def test_logo_upload_serve_replace_and_delete(api: httpx.Client, stack: Stack) -> None:
    owner = register(api)
    uploaded = upload(api, owner["token"], PNG)
    assert uploaded.status_code == 200, uploaded.text
    url = uploaded.json()["data"]["logo_url"]
    key = url.rsplit("/", 1)[1]
    assert key.endswith(".png") and len(key) == 36
    assert key in logo_files(stack)

    served = httpx.get(url.replace("http://127.0.0.1:8000", str(api.base_url).rstrip("/")))
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"

    replaced = upload(api, owner["token"], JPEG, name="photo.jpg")
    new_key = replaced.json()["data"]["logo_url"].rsplit("/", 1)[1]
    assert new_key.endswith(".jpg")
    assert key not in logo_files(stack) and new_key in logo_files(stack)
    assert api.get(f"/v1/files/logos/{key}").status_code == 404
    assert upload(api, owner["token"], WEBP, name="x.webp").status_code == 200

    deleted = api.delete("/v1/workspace-config/logo", headers=bearer(owner["token"]))
    assert deleted.status_code == 200 and deleted.json()["data"]["logo_url"] is None
    assert not {k for k in logo_files(stack) if k.endswith(".webp")} & {new_key}
    assert api.get("/v1/files/logos/../../etc/passwd").status_code == 404


def test_logos_are_judged_by_content_and_size(api: httpx.Client) -> None:
    owner = register(api)
    svg = upload(api, owner["token"], SVG, name="logo.png")
    assert svg.status_code == 422 and error_fields(svg) == {"logo"}
    text = upload(api, owner["token"], b"just text", name="logo.jpg")
    assert text.status_code == 422
    too_big = upload(api, owner["token"], PNG + bytes(1024 * 1024), name="big.png")
    assert too_big.status_code == 422 and error_fields(too_big) == {"logo"}
    far_too_big = upload(api, owner["token"], PNG + bytes(2 * 1024 * 1024), name="huge.png")
    assert far_too_big.status_code == 413
    empty = api.post("/v1/workspace-config/logo", headers=bearer(owner["token"]), json={})
    assert empty.status_code == 422
    agent = join(api, owner["token"])
    assert upload(api, agent["token"], PNG).status_code == 403
    config = api.get("/v1/workspace-config", headers=bearer(owner["token"])).json()["data"]
    assert config["logo_url"] is None  # nothing refused was stored
