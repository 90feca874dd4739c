"""Writing the knowledge base: imports, article and category edits, synonyms, re-embedding.

Every write goes through `apply_import` (a single article edit is an import of one), so chunking, embedding,
the "unchanged" check and the change counter behave the same whichever door the content came in by. Vectors
are computed before the transaction opens — a slow embedder must not hold row locks — and the whole import
is one transaction: a failure leaves the knowledge base as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
import numpy as np

from core.db import queries
from core.errors import InvalidInput, NotFound
from core.kb.models import SLUG, ArticleIn, CategoryIn, ImportReport, KbImport
from graphs.retrieval.chunking import chunk_article
from graphs.retrieval.embedders import Embedder

Conn = asyncpg.Connection | asyncpg.Pool


class Category(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    slug: str
    title: str
    position: int
    articles: int


class Article(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    external_id: str
    title: str
    text: str
    tags: list[str]
    category: str | None
    source: str
    meta: dict[str, Any]
    avito_item_ids: list[int]
    updated_at: datetime
    chunks: int


class Synonym(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    term: str
    synonyms: list[str]


class Stats(msgspec.Struct, frozen=True, kw_only=True):
    categories: int
    articles: int
    chunks: int
    embedded_chunks: int
    synonyms: int
    last_updated: datetime | None
    embedders: dict[str, int]
    version: int


def content_hash(article: ArticleIn) -> str:
    """What chunking, embedding and the answer read; equal hashes mean an import changes nothing."""
    payload = msgspec.json.encode(
        [article.title, article.text, article.category, article.tags, article.meta, article.avito_item_ids]
    )
    return hashlib.sha256(payload).hexdigest()


def _chunk_rows(article: ArticleIn, embedder: Embedder | None) -> list[tuple[int, str, np.ndarray | None]]:
    chunks = chunk_article(article.external_id, article.title, article.text)
    vectors = embedder.embed([c.text for c in chunks]) if embedder is not None and chunks else None
    return [(c.position, c.text, None if vectors is None else vectors[i]) for i, c in enumerate(chunks)]


async def apply_import(
    pool: asyncpg.Pool,
    doc: KbImport,
    *,
    embedder: Embedder | None,
    replace: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Writes a parsed import: creates, updates (re-chunking and re-embedding), leaves unchanged articles alone.

    With `replace`, articles that came from the same source and are absent from `doc` are deleted.
    Raises InvalidInput (nothing written) when an article names a category that exists nowhere.
    """
    async with pool.acquire() as conn:
        existing_categories = {r["slug"]: r["id"] for r in await conn.fetch(queries.kb_category_ids)}
        known = set(existing_categories) | {c.slug for c in doc.categories}
        for article in doc.articles:
            if article.category is not None and article.category not in known:
                raise InvalidInput(
                    f'Статья "{article.external_id}": категории "{article.category}" нет ни в файле, ни в базе знаний. '
                    'Добавьте её в "categories".'
                )
        ids = [a.external_id for a in doc.articles]
        existing = {r["external_id"]: r for r in await conn.fetch(queries.kb_article_hashes, ids)}

    hashes = {a.external_id: content_hash(a) for a in doc.articles}
    changed = [
        a
        for a in doc.articles
        if a.external_id not in existing or existing[a.external_id]["content_hash"] != hashes[a.external_id]
    ]
    chunk_rows: dict[str, list[tuple[int, str, np.ndarray | None]]] = {}
    for done, article in enumerate(changed, 1):
        chunk_rows[article.external_id] = _chunk_rows(article, embedder)
        if progress is not None:
            progress(done, len(changed))
    embedder_name = embedder.name if embedder is not None else None

    created = updated = categories_created = deleted = 0
    async with pool.acquire() as conn, conn.transaction():
        category_ids = dict(existing_categories)
        for category in doc.categories:
            row = await conn.fetchrow(queries.kb_upsert_category, category.slug, category.title)
            category_ids[category.slug] = row["id"]
            categories_created += int(row["created"])
        for article in changed:
            values = (
                category_ids.get(article.category) if article.category else None,
                article.title,
                article.text,
                article.tags,
                doc.source,
                article.meta,
                article.avito_item_ids,
                hashes[article.external_id],
            )
            if article.external_id in existing:
                article_id = existing[article.external_id]["id"]
                await conn.execute(queries.kb_update_article, article_id, *values)
                await conn.execute(queries.kb_delete_chunks, article_id)
                updated += 1
            else:
                article_id = await conn.fetchval(queries.kb_insert_article, article.external_id, *values)
                created += 1
            await conn.executemany(
                queries.kb_insert_chunk,
                [
                    (article_id, pos, text, vec, embedder_name if vec is not None else None)
                    for pos, text, vec in chunk_rows[article.external_id]
                ],
            )
        if replace:
            deleted = len(await conn.fetch(queries.kb_delete_missing, doc.source, ids))
        if embedder is not None and chunk_rows:
            await ensure_vector_index(conn, embedder)
        if created or updated or deleted or categories_created:
            await conn.fetchval(queries.kb_bump_version)
    return ImportReport(
        created=created,
        updated=updated,
        unchanged=len(doc.articles) - len(changed),
        deleted=deleted,
        categories_created=categories_created,
        skipped=list(doc.skipped),
    )


async def save_article(
    pool: asyncpg.Pool, article: ArticleIn, *, embedder: Embedder | None, source: str = "manual"
) -> Article:
    """Creates or replaces one article (the admin pages' edit)."""
    await apply_import(pool, KbImport(source=source, articles=[article]), embedder=embedder)
    return await get_article(pool, article.external_id)


async def get_article(conn: Conn, external_id: str) -> Article:
    row = await conn.fetchrow(queries.kb_get_article, external_id)
    if row is None:
        raise NotFound(f'Статья "{external_id}" не найдена.')
    return msgspec.convert(dict(row), Article)


async def list_articles(
    conn: Conn, *, category: str | None = None, q: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Article], int]:
    rows = await conn.fetch(queries.kb_list_articles, category, q, limit, offset)
    total = await conn.fetchval(queries.kb_count_articles, category, q)
    return [msgspec.convert(dict(r), Article) for r in rows], total


async def delete_article(pool: asyncpg.Pool, external_id: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(queries.kb_delete_article, external_id) is None:
            raise NotFound(f'Статья "{external_id}" не найдена.')
        await conn.fetchval(queries.kb_bump_version)


async def list_categories(conn: Conn) -> list[Category]:
    return [msgspec.convert(dict(r), Category) for r in await conn.fetch(queries.kb_list_categories)]


async def get_category(conn: Conn, slug: str) -> Category:
    row = await conn.fetchrow(queries.kb_get_category, slug)
    if row is None:
        raise NotFound(f'Категория "{slug}" не найдена.')
    return msgspec.convert(dict(row), Category)


async def create_category(pool: asyncpg.Pool, category: CategoryIn) -> Category:
    if not SLUG.match(category.slug):
        raise InvalidInput("Slug — это 1–63 символа a-z, 0-9, _ и -, начиная с буквы или цифры.")
    if not category.title.strip():
        raise InvalidInput("Укажите название категории.")
    await apply_import(pool, KbImport(source="manual", categories=[category]), embedder=None)
    return await get_category(pool, category.slug)


async def update_category(pool: asyncpg.Pool, slug: str, title: str, position: int) -> Category:
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(queries.kb_update_category, slug, title, position) is None:
            raise NotFound(f'Категория "{slug}" не найдена.')
        await conn.fetchval(queries.kb_bump_version)
    return await get_category(pool, slug)


async def delete_category(pool: asyncpg.Pool, slug: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(queries.kb_delete_category, slug) is None:
            raise NotFound(f'Категория "{slug}" не найдена.')
        await conn.fetchval(queries.kb_bump_version)


def _clean_terms(values: Sequence[str]) -> list[str]:
    return [v for v in (re.sub(r"\s+", " ", value).strip().lower() for value in values) if v]


async def list_synonyms(conn: Conn) -> list[Synonym]:
    return [msgspec.convert(dict(r), Synonym) for r in await conn.fetch(queries.kb_list_synonyms)]


async def set_synonyms(pool: asyncpg.Pool, term: str, synonyms: Sequence[str]) -> Synonym:
    cleaned_term = " ".join(_clean_terms([term]))
    cleaned = [s for s in _clean_terms(synonyms) if s != cleaned_term]
    if not cleaned_term or not cleaned:
        raise InvalidInput("Укажите слово и хотя бы один синоним, отличный от него.")
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(queries.kb_upsert_synonym, cleaned_term, cleaned)
        await conn.fetchval(queries.kb_bump_version)
    return msgspec.convert(dict(row), Synonym)


async def delete_synonym(pool: asyncpg.Pool, term: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(queries.kb_delete_synonym, term) is None:
            raise NotFound(f'Синонимов для "{term}" нет.')
        await conn.fetchval(queries.kb_bump_version)


async def stats(conn: Conn) -> Stats:
    row = dict(await conn.fetchrow(queries.kb_stats))
    embedders = {r["embedder"]: r["chunks"] for r in await conn.fetch(queries.kb_embedders)}
    version = await conn.fetchval(queries.kb_version) or 0
    return msgspec.convert({**row, "embedders": embedders, "version": version}, Stats)


async def reindex(
    pool: asyncpg.Pool, embedder: Embedder, *, batch: int = 64, progress: Callable[[int, int], None] | None = None
) -> int:
    """Re-embeds every chunk whose vector is missing or came from another embedder; returns how many.

    Batches commit one by one, so an interrupted reindex resumes where it stopped.
    """
    total = await pool.fetchval(queries.kb_count_to_embed, embedder.name)
    done = 0
    while True:
        rows = await pool.fetch(queries.kb_chunks_to_embed, embedder.name, batch)
        if not rows:
            break
        vectors = embedder.embed([r["text"] for r in rows])
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                queries.kb_set_chunk_embedding, [(r["id"], vectors[i], embedder.name) for i, r in enumerate(rows)]
            )
        done += len(rows)
        if progress is not None:
            progress(done, total)
    if done:
        async with pool.acquire() as conn:
            await ensure_vector_index(conn, embedder)
            await conn.fetchval(queries.kb_bump_version)
    return done


def vector_index_name(embedder: Embedder) -> str:
    return "kb_chunks_hnsw_" + re.sub(r"[^a-z0-9]+", "_", embedder.name.lower()).strip("_")[:40]


async def ensure_vector_index(conn: asyncpg.Connection, embedder: Embedder) -> None:
    """The HNSW index for this embedder's vectors.

    The column has no fixed dimension (embedders differ), so the index is an expression index over
    `embedding::vector(dim)` limited to this embedder's rows. This is the one statement built at run time:
    DDL takes no parameters, and both interpolated values are ours (a sanitised name and an int).
    """
    name = vector_index_name(embedder)
    literal = embedder.name.replace("'", "''")
    await conn.execute(
        f"CREATE INDEX IF NOT EXISTS {name} ON kb_chunks "
        f"USING hnsw ((embedding::vector({int(embedder.dim)})) vector_cosine_ops) WHERE embedder = '{literal}'"
    )
