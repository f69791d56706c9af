"""The knowledge base through the gateway: staff write drafts and publish them; the public help
centre shows only published articles; slugs are unique per locale; images are checked by
content, size-capped, and served raw."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import bearer, errors_of, register
from tests.test_backoffice_tenants import audit, staff  # noqa: F401

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


def article(**changes: Any) -> dict[str, Any]:
    body = {
        "slug": f"connect-whatsapp-{uuid.uuid4().hex[:8]}",
        "locale": "en",
        "title": "Connect your WhatsApp number",
        "body": "Scan the QR code from Settings.",
    }
    body.update(changes)
    return body


def test_a_draft_is_invisible_publicly_until_published(
    api: httpx.Client,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    admin = bearer(staff["token"])
    draft = api.post("/v1/admin/kb/articles", headers=admin, json=article())
    assert draft.status_code == 201, draft.text
    data = draft.json()["data"]
    aid, slug = data["id"], data["slug"]
    assert data["status"] == "draft" and data["published_at"] is None

    assert api.get(f"/v1/kb/articles/{slug}").status_code == 404
    assert slug not in [
        a["slug"] for a in api.get("/v1/kb/articles", params={"limit": 100}).json()["data"]
    ]
    assert api.get(f"/v1/admin/kb/articles/{aid}", headers=admin).json()["data"]["slug"] == slug
    drafts = api.get("/v1/admin/kb/articles", headers=admin, params={"status": "draft"})
    assert aid in [a["id"] for a in drafts.json()["data"]]

    published = api.put(
        f"/v1/admin/kb/articles/{aid}",
        headers=admin,
        json={**article(slug=slug), "status": "published"},
    )
    assert published.status_code == 200, published.text
    assert published.json()["data"]["published_at"]
    public = api.get(f"/v1/kb/articles/{slug}")
    assert public.status_code == 200 and public.json()["data"]["title"] == data["title"]
    assert api.get(f"/v1/kb/articles/{slug}", params={"locale": "pt"}).status_code == 404
    listed = api.get("/v1/kb/articles", params={"locale": "en", "limit": 100}).json()["data"]
    assert slug in [a["slug"] for a in listed]
    assert all(a["status"] == "published" for a in listed)

    unpublished = api.put(
        f"/v1/admin/kb/articles/{aid}",
        headers=admin,
        json={**article(slug=slug), "status": "draft"},
    )
    assert unpublished.json()["data"]["published_at"] is None
    assert api.get(f"/v1/kb/articles/{slug}").status_code == 404

    assert api.delete(f"/v1/admin/kb/articles/{aid}", headers=admin).status_code == 204
    assert api.get(f"/v1/admin/kb/articles/{aid}", headers=admin).status_code == 404
    assert api.delete(f"/v1/admin/kb/articles/{aid}", headers=admin).status_code == 404
    actions = [e["action"] for e in audit(api, staff["token"], staff_id=staff["id"], limit=100)]
    assert {"kb.article.created", "kb.article.updated", "kb.article.deleted"} <= set(actions)


def test_slugs_are_unique_per_locale_and_checked(
    api: httpx.Client,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    admin = bearer(staff["token"])
    first = api.post("/v1/admin/kb/articles", headers=admin, json=article(status="published"))
    slug = first.json()["data"]["slug"]
    again = api.post("/v1/admin/kb/articles", headers=admin, json=article(slug=slug))
    assert again.status_code == 409 and errors_of(again)[0]["code"] == "SLUG_TAKEN"
    assert errors_of(again)[0]["field"] == "slug"
    other_locale = api.post(
        "/v1/admin/kb/articles",
        headers=admin,
        json=article(slug=slug, locale="pt-BR", title="Conecte seu número", status="published"),
    )
    assert other_locale.status_code == 201, other_locale.text
    pt = api.get(f"/v1/kb/articles/{slug}", params={"locale": "pt-BR"})
    assert pt.json()["data"]["title"] == "Conecte seu número"

    second = api.post("/v1/admin/kb/articles", headers=admin, json=article())
    clash = api.put(
        f"/v1/admin/kb/articles/{second.json()['data']['id']}",
        headers=admin,
        json=article(slug=slug),
    )
    assert clash.status_code == 409 and errors_of(clash)[0]["code"] == "SLUG_TAKEN"

    for bad, field in [
        (article(slug="Not A Slug!"), "slug"),
        (article(locale="english"), "locale"),
        (article(title=""), "title"),
        (article(status="live"), "status"),
    ]:
        response = api.post("/v1/admin/kb/articles", headers=admin, json=bad)
        assert response.status_code == 422, (field, response.text)
        assert field in {e["field"] for e in errors_of(response)}
    missing = api.put("/v1/admin/kb/articles/987654321", headers=admin, json=article())
    assert missing.status_code == 404


def test_images_are_checked_by_content_capped_and_served_raw(
    api: httpx.Client,
    staff: dict[str, Any],  # noqa: F811
) -> None:
    admin = bearer(staff["token"])
    for data, kind in [
        (PNG, "image/png"),
        (WEBP, "image/webp"),
        (b"\xff\xd8\xff\xe0" + b"0" * 20, "image/jpeg"),
    ]:
        uploaded = api.post(
            "/v1/admin/kb/images",
            headers=admin,
            files={"image": ("picture.bin", data, "application/octet-stream")},
        )
        assert uploaded.status_code == 201, uploaded.text
        image = uploaded.json()["data"]
        assert image["content_type"] == kind and image["size"] == len(data)
        assert image["url"].endswith(f"/v1/kb/images/{image['key']}")
        served = api.get(f"/v1/kb/images/{image['key']}")  # public, no token
        assert served.status_code == 200 and served.content == data
        assert served.headers["content-type"] == kind

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = api.post(
        "/v1/admin/kb/images", headers=admin, files={"image": ("x.png", svg, "image/png")}
    )
    assert refused.status_code == 422 and errors_of(refused)[0]["field"] == "image"
    big = PNG + b"\x00" * (2 * 1024 * 1024)
    too_big = api.post(
        "/v1/admin/kb/images", headers=admin, files={"image": ("big.png", big, "image/png")}
    )
    assert too_big.status_code in (413, 422), too_big.text
    for key in ("nothing.png", "../../etc/passwd", "0" * 32 + ".png"):
        assert api.get(f"/v1/kb/images/{key}").status_code == 404


def test_members_cannot_write_the_knowledge_base(api: httpx.Client) -> None:
    owner = register(api)
    response = api.post("/v1/admin/kb/articles", headers=bearer(owner["token"]), json=article())
    assert response.status_code == 403
