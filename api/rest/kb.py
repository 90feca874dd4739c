"""Knowledge base for the admin pages: categories, articles, synonyms, import upload, stats, search testing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import admin_only
from api.deps import DbPool
from core.errors import InvalidInput
from core.kb import store
from core.kb.formats import parse_file
from core.kb.models import ArticleIn, CategoryIn, ImportReport

MAX_UPLOAD = 20 * 1024 * 1024


class CategoryUpdate(msgspec.Struct, frozen=True):
    title: str
    position: int = 0


class ArticleWrite(msgspec.Struct, frozen=True):
    title: str
    text: str
    category: str | None = None
    tags: list[str] = []
    avito_item_ids: list[int] = []


class ArticlePage(msgspec.Struct, frozen=True):
    items: list[store.Article]
    total: int


class SearchHit(msgspec.Struct, frozen=True):
    external_id: str
    title: str
    category: str | None
    score: float
    passage: str


class SynonymWrite(msgspec.Struct, frozen=True):
    synonyms: list[str]


@dataclass
class ImportUpload:
    file: UploadFile
    format: Literal["json", "yml"] = "json"
    replace: bool = False


class KnowledgeBaseController(Controller):
    path = "/api/v1/kb"
    guards = (admin_only,)
    tags = ("knowledge base",)

    # --- categories ---------------------------------------------------------------------------------------
    @get("/categories")
    async def list_categories(self, db_pool: DbPool) -> list[store.Category]:
        return await store.list_categories(db_pool)

    @post("/categories")
    async def create_category(self, data: JSONBody[CategoryIn], db_pool: DbPool) -> store.Category:
        return await store.create_category(db_pool, data)

    @patch("/categories/{slug:str}")
    async def update_category(
        self, slug: FromPath[str], data: JSONBody[CategoryUpdate], db_pool: DbPool
    ) -> store.Category:
        return await store.update_category(db_pool, slug, data.title.strip(), data.position)

    @delete("/categories/{slug:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_category(self, slug: FromPath[str], db_pool: DbPool) -> None:
        await store.delete_category(db_pool, slug)

    # --- articles -----------------------------------------------------------------------------------------
    @get("/articles")
    async def list_articles(
        self,
        db_pool: DbPool,
        category: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> ArticlePage:
        items, total = await store.list_articles(db_pool, category=category, q=q or None, limit=limit, offset=offset)
        return ArticlePage(items=items, total=total)

    @get("/articles/{external_id:str}")
    async def get_article(self, external_id: FromPath[str], db_pool: DbPool) -> store.Article:
        return await store.get_article(db_pool, external_id)

    @put("/articles/{external_id:str}")
    async def save_article(
        self, request: Request[Any, Any, Any], external_id: FromPath[str], data: JSONBody[ArticleWrite], db_pool: DbPool
    ) -> store.Article:
        if not data.title.strip() or not data.text.strip():
            raise InvalidInput("У статьи должны быть название и текст.")
        article = ArticleIn(
            external_id=external_id,
            title=data.title.strip(),
            text=data.text.strip(),
            category=data.category,
            tags=[t.strip() for t in data.tags if t.strip()],
            avito_item_ids=data.avito_item_ids,
        )
        return await store.save_article(db_pool, article, embedder=request.app.state.knowledge.embedder)

    @delete("/articles/{external_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_article(self, external_id: FromPath[str], db_pool: DbPool) -> None:
        await store.delete_article(db_pool, external_id)

    # --- import, synonyms, stats ----------------------------------------------------------------------------
    @post("/import", request_max_body_size=MAX_UPLOAD)
    async def import_file(
        self,
        request: Request[Any, Any, Any],
        data: MultipartBody[ImportUpload],
        db_pool: DbPool,
    ) -> ImportReport:
        doc = parse_file(data.format, await data.file.read())
        return await store.apply_import(
            db_pool, doc, embedder=request.app.state.knowledge.embedder, replace=data.replace
        )

    @get("/synonyms")
    async def list_synonyms(self, db_pool: DbPool) -> list[store.Synonym]:
        return await store.list_synonyms(db_pool)

    @put("/synonyms/{term:str}")
    async def set_synonyms(self, term: FromPath[str], data: JSONBody[SynonymWrite], db_pool: DbPool) -> store.Synonym:
        return await store.set_synonyms(db_pool, term, data.synonyms)

    @delete("/synonyms/{term:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_synonym(self, term: FromPath[str], db_pool: DbPool) -> None:
        await store.delete_synonym(db_pool, term)

    @get("/search")
    async def search(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str, QueryParameter(min_length=1, max_length=1000)],
        category: FromQuery[list[str] | None] = None,
        item_title: FromQuery[str | None] = None,
        top: Annotated[int, QueryParameter(ge=1, le=20)] = 5,
    ) -> list[SearchHit]:
        """Ranked articles with scores and the matched passage: the retrieval-testing page."""
        hits = await request.app.state.knowledge.search(q, top_k=top, categories=category, item_title=item_title)
        return [SearchHit(h.external_id, h.title, h.category, round(h.score, 4), h.passage) for h in hits]

    @get("/stats")
    async def stats(self, db_pool: DbPool) -> store.Stats:
        return await store.stats(db_pool)
