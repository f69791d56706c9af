"""SQL for help articles and their images."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.backoffice.store.tenant_directory import metadata
from services.kit.paging import Keyset, Page, PageQuery, paginate
from services.kit.rows import from_row

kb_articles = Table(
    "kb_articles",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("slug", Text, nullable=False),
    Column("locale", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

kb_images = Table(
    "kb_images",
    metadata,
    Column("key", Text, primary_key=True),
    Column("content_type", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("uploaded_by_staff_id", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

ARTICLES_ORDER = Keyset("backoffice.kb_articles", id=kb_articles.c.id, descending=True)


@dataclass(frozen=True)
class ArticleRow:
    id: int
    slug: str
    locale: str
    title: str
    body: str
    status: str
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SlugTaken(Exception):
    """Another article of the locale has the slug."""


async def add_article(conn: AsyncConnection, **values: Any) -> ArticleRow:
    try:
        async with conn.begin_nested():
            statement = insert(kb_articles).values(**values).returning(kb_articles)
            return from_row(ArticleRow, (await conn.execute(statement)).one())
    except IntegrityError:
        raise SlugTaken from None


async def replace_article(conn: AsyncConnection, article_id: int, **values: Any) -> ArticleRow:
    try:
        async with conn.begin_nested():
            statement = (
                update(kb_articles)
                .where(kb_articles.c.id == article_id)
                .values(**values)
                .returning(kb_articles)
            )
            return from_row(ArticleRow, (await conn.execute(statement)).one())
    except IntegrityError:
        raise SlugTaken from None


async def get_article(
    conn: AsyncConnection, article_id: int, lock: bool = False
) -> ArticleRow | None:
    query = select(kb_articles).where(kb_articles.c.id == article_id)
    if lock:
        query = query.with_for_update()
    row = (await conn.execute(query)).one_or_none()
    return from_row(ArticleRow, row) if row else None


async def delete_article(conn: AsyncConnection, article_id: int) -> ArticleRow | None:
    statement = delete(kb_articles).where(kb_articles.c.id == article_id).returning(kb_articles)
    row = (await conn.execute(statement)).one_or_none()
    return from_row(ArticleRow, row) if row else None


async def list_articles(
    conn: AsyncConnection, page: PageQuery, *, status: str | None, locale: str | None
) -> Page[ArticleRow]:
    query = select(kb_articles)
    if status is not None:
        query = query.where(kb_articles.c.status == status)
    if locale is not None:
        query = query.where(kb_articles.c.locale == locale)
    rows = await paginate(conn, query, ARTICLES_ORDER, page)
    return rows.map(lambda row: from_row(ArticleRow, row))


async def published_by_slug(
    conn: AsyncConnection, slug: str, locale: str | None
) -> ArticleRow | None:
    query = select(kb_articles).where(
        kb_articles.c.slug == slug, kb_articles.c.status == "published"
    )
    if locale is not None:
        query = query.where(kb_articles.c.locale == locale)
    row = (await conn.execute(query.order_by(kb_articles.c.id).limit(1))).one_or_none()
    return from_row(ArticleRow, row) if row else None


async def add_image(conn: AsyncConnection, **values: Any) -> None:
    await conn.execute(insert(kb_images).values(**values))


async def get_image(conn: AsyncConnection, key: str) -> tuple[bytes, str] | None:
    query = select(kb_images.c.data, kb_images.c.content_type).where(kb_images.c.key == key)
    row = (await conn.execute(query)).one_or_none()
    return (bytes(row.data), row.content_type) if row else None
