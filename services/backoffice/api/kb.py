"""AdminKb (staff) and HelpCentre (public): thin servicers over domain/kb.py."""

from __future__ import annotations

import grpc
from google.protobuf import empty_pb2

from plixa.backoffice.v1 import kb_pb2, kb_pb2_grpc
from plixa.common.v1 import http_body_pb2
from services.backoffice.domain import kb
from services.backoffice.store.kb import ArticleRow
from services.kit.db import Database
from services.kit.paging import Page, PageQuery
from services.kit.principal import ANONYMOUS
from services.kit.protos import optional, to_proto

IMAGE_CACHE = "public, max-age=31536000, immutable"  # a key never names other bytes


def article_to_proto(article: ArticleRow) -> kb_pb2.KbArticle:
    return to_proto(article, kb_pb2.KbArticle)


def articles_page(page: Page[ArticleRow]) -> kb_pb2.ListArticlesResponse:
    return kb_pb2.ListArticlesResponse(
        items=[article_to_proto(a) for a in page.items], meta=page.meta()
    )


class AdminKbApi(kb_pb2_grpc.AdminKbServicer):
    def __init__(self, db: Database, public_url: str) -> None:
        self.db = db
        self.public_url = public_url.rstrip("/")

    async def CreateArticle(
        self, request: kb_pb2.SaveArticleRequest, context: grpc.aio.ServicerContext
    ) -> kb_pb2.KbArticle:
        async with self.db.unit_of_work() as uow:
            article = await kb.create(
                uow,
                slug=request.slug,
                locale=request.locale,
                title=request.title,
                body=request.body,
                status=optional(request, "status"),
            )
        return article_to_proto(article)

    async def AdminListArticles(
        self, request: kb_pb2.AdminListArticlesRequest, context: grpc.aio.ServicerContext
    ) -> kb_pb2.ListArticlesResponse:
        async with self.db.reader() as uow:
            page = await kb.list_any(
                uow,
                PageQuery.from_proto(request.page),
                optional(request, "status"),
                optional(request, "locale"),
            )
        return articles_page(page)

    async def AdminGetArticle(
        self, request: kb_pb2.ArticleRequest, context: grpc.aio.ServicerContext
    ) -> kb_pb2.KbArticle:
        async with self.db.reader() as uow:
            return article_to_proto(await kb.get_any(uow, request.id))

    async def UpdateArticle(
        self, request: kb_pb2.SaveArticleRequest, context: grpc.aio.ServicerContext
    ) -> kb_pb2.KbArticle:
        async with self.db.unit_of_work() as uow:
            article = await kb.replace(
                uow,
                request.id,
                slug=request.slug,
                locale=request.locale,
                title=request.title,
                body=request.body,
                status=optional(request, "status"),
            )
        return article_to_proto(article)

    async def DeleteArticle(
        self, request: kb_pb2.ArticleRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        async with self.db.unit_of_work() as uow:
            await kb.delete(uow, request.id)
        return empty_pb2.Empty()

    async def UploadImage(
        self, request: kb_pb2.UploadImageRequest, context: grpc.aio.ServicerContext
    ) -> kb_pb2.KbImage:
        async with self.db.unit_of_work() as uow:
            key, kind, size = await kb.upload_image(uow, request.image)
        return kb_pb2.KbImage(
            key=key,
            url=f"{self.public_url}/v1/kb/images/{key}",
            content_type=kind,
            size=size,
        )


class HelpCentreApi(kb_pb2_grpc.HelpCentreServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def ListPublishedArticles(
        self, request: kb_pb2.PublicListArticlesRequest, context: grpc.aio.ServicerContext
    ) -> kb_pb2.ListArticlesResponse:
        async with self.db.reader(ANONYMOUS) as uow:
            page = await kb.list_published(
                uow, PageQuery.from_proto(request.page), optional(request, "locale")
            )
        return articles_page(page)

    async def GetPublishedArticle(
        self, request: kb_pb2.PublicArticleRequest, context: grpc.aio.ServicerContext
    ) -> kb_pb2.KbArticle:
        async with self.db.reader(ANONYMOUS) as uow:
            article = await kb.get_published(uow, request.slug, optional(request, "locale"))
        return article_to_proto(article)

    async def GetImage(
        self, request: kb_pb2.ImageRequest, context: grpc.aio.ServicerContext
    ) -> http_body_pb2.HttpBody:
        async with self.db.reader(ANONYMOUS) as uow:
            data, kind = await kb.image(uow, request.key)
        return http_body_pb2.HttpBody(content_type=kind, data=data, cache_control=IMAGE_CACHE)
