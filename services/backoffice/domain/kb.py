"""The knowledge base. Staff write articles (draft or published; a slug unique per locale) and
upload images, which are PNG, JPEG or WebP as the bytes themselves say (never the name or the
declared type; SVG can carry script), at most 2 MB, served raw under a random key. The public
help centre reads published articles only."""

from __future__ import annotations

import re
import secrets

from services.backoffice.domain import audit
from services.backoffice.store import kb as store
from services.backoffice.store.kb import ArticleRow, SlugTaken
from services.kit.db import UnitOfWork
from services.kit.errors import conflict, not_found
from services.kit.images import EXTENSIONS, checked_image
from services.kit.paging import Page, PageQuery
from services.kit.validation import Checker

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
STATUSES = ("draft", "published")
MAX_IMAGE_BYTES = 2 * 1024 * 1024
IMAGE_KEY = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp)$")


def _article_values(
    slug: str, locale: str, title: str, body: str, status: str | None
) -> dict[str, str]:
    check = Checker()
    slug = check.text("slug", slug, max_len=120).lower()
    if slug and not SLUG.match(slug):
        check.fail("slug", "The slug may hold lower-case letters, digits and hyphens.", "slug")
    locale = check.locale("locale", locale)
    title = check.text("title", title, max_len=200)
    body = check.text("body", body, max_len=100_000)
    if status is not None and status not in STATUSES:
        check.fail("status", "The status must be draft or published.", "in")
    check.done()
    return {"slug": slug, "locale": locale, "title": title, "body": body, "status": status or ""}


def _summary(article: ArticleRow) -> dict[str, str]:
    return {
        "slug": article.slug,
        "locale": article.locale,
        "title": article.title,
        "status": article.status,
    }


def slug_taken() -> Exception:
    return conflict("SLUG_TAKEN", "Another article of this locale has this slug.", "slug")


async def create(
    uow: UnitOfWork, *, slug: str, locale: str, title: str, body: str, status: str | None
) -> ArticleRow:
    values = _article_values(slug, locale, title, body, status)
    values["status"] = values["status"] or "draft"
    now = uow.clock.now()
    try:
        article = await store.add_article(
            uow.conn,
            **values,
            published_at=now if values["status"] == "published" else None,
            created_at=now,
            updated_at=now,
        )
    except SlugTaken:
        raise slug_taken() from None
    await audit.record(
        uow,
        "kb.article.created",
        target_type="kb_article",
        target_id=article.id,
        after=_summary(article),
    )
    return article


async def replace(
    uow: UnitOfWork,
    article_id: int,
    *,
    slug: str,
    locale: str,
    title: str,
    body: str,
    status: str | None,
) -> ArticleRow:
    values = _article_values(slug, locale, title, body, status)
    before = await store.get_article(uow.conn, article_id, lock=True)
    if before is None:
        raise not_found("Article")
    values["status"] = values["status"] or before.status
    now = uow.clock.now()
    published_at = before.published_at
    if values["status"] == "published" and before.status != "published":
        published_at = now
    elif values["status"] == "draft":
        published_at = None
    try:
        article = await store.replace_article(
            uow.conn, article_id, **values, published_at=published_at, updated_at=now
        )
    except SlugTaken:
        raise slug_taken() from None
    await audit.record(
        uow,
        "kb.article.updated",
        target_type="kb_article",
        target_id=article.id,
        before=_summary(before),
        after=_summary(article),
    )
    return article


async def delete(uow: UnitOfWork, article_id: int) -> None:
    article = await store.delete_article(uow.conn, article_id)
    if article is None:
        raise not_found("Article")
    await audit.record(
        uow,
        "kb.article.deleted",
        target_type="kb_article",
        target_id=article.id,
        before=_summary(article),
    )


async def get_any(uow: UnitOfWork, article_id: int) -> ArticleRow:
    article = await store.get_article(uow.conn, article_id)
    if article is None:
        raise not_found("Article")
    return article


async def list_any(
    uow: UnitOfWork, page: PageQuery, status: str | None, locale: str | None
) -> Page[ArticleRow]:
    return await store.list_articles(uow.conn, page, status=status, locale=locale)


async def list_published(uow: UnitOfWork, page: PageQuery, locale: str | None) -> Page[ArticleRow]:
    return await store.list_articles(uow.conn, page, status="published", locale=locale)


async def get_published(uow: UnitOfWork, slug: str, locale: str | None) -> ArticleRow:
    article = await store.published_by_slug(uow.conn, slug.lower(), locale)
    if article is None:
        raise not_found("Article")
    return article


async def upload_image(uow: UnitOfWork, data: bytes) -> tuple[str, str, int]:
    """(key, content type, size) of the stored image."""
    kind = checked_image(data, "image", MAX_IMAGE_BYTES)
    key = f"{secrets.token_hex(16)}.{EXTENSIONS[kind]}"
    await store.add_image(
        uow.conn,
        key=key,
        content_type=kind,
        data=data,
        size=len(data),
        uploaded_by_staff_id=audit.acting_staff(uow.principal),
        created_at=uow.clock.now(),
    )
    await audit.record(
        uow,
        "kb.image.uploaded",
        target_type="kb_image",
        target_id=0,
        after={"key": key, "content_type": kind, "size": len(data)},
    )
    return key, kind, len(data)


async def image(uow: UnitOfWork, key: str) -> tuple[bytes, str]:
    found = await store.get_image(uow.conn, key) if IMAGE_KEY.match(key) else None
    if found is None:
        raise not_found("Image")
    return found
