"""Retrieval over the knowledge base stored in PostgreSQL: the in-process hybrid index + pgvector.

The lexical side (BM25 over lemmas, character n-grams, synonyms, transliteration) runs in memory on an index
built from the database (`load_index`) and rebuilt when the knowledge base's change counter moves (`kb_version`,
bumped in the same transaction as every edit). The dense side is the question's DENSE_CANDIDATES nearest chunks
by cosine: the question is embedded here; a base of up to IN_MEMORY_DENSE_MAX chunks is searched exactly in the
process, over the vectors the index loaded from pgvector anyway (`nearest_in_memory`), and a larger one by
pgvector's HNSW index of the active embedder (`fetch_dense`) — for an embedder whose cosine the ranking weighs
(`KnowledgeIndex.weighs_dense`): the offline default's (USE) is not, so its questions are not embedded at all.
Both sides meet in `KnowledgeIndex.search`. Replay (actors/replay.py) uses the same pieces on a snapshot of the
base.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import numpy as np

from core.db import queries
from core.kb.store import ensure_vector_index
from core.settings import Settings
from graphs.retrieval import (
    ChunkKey,
    Embedder,
    Hit,
    KnowledgeIndex,
    LocalEmbedder,
    OpenAIEmbedder,
    Signals,
    embed_queries,
    l2_normalise,
)

# How many nearest chunks pgvector returns; the rest of the base gets no dense signal for this question.
DENSE_CANDIDATES = 64
# Candidates pgvector's HNSW scan keeps (`hnsw.ef_search`, default 40). A scan returns at most that many rows
# whatever the LIMIT, so it must be at least DENSE_CANDIDATES or recall is capped below what the query asks for.
HNSW_EF_SEARCH = max(64, DENSE_CANDIDATES)
# Up to this many chunks, the nearest ones are found in the process: a product over the vectors the index holds
# (0.04 ms for 300 chunks of 512 floats, 0.37 ms for 10,000 on this machine) costs less than pgvector's
# transaction of four round trips (~0.9 ms of the server's time alone), and it is exact where HNSW is
# approximate. Above it, pgvector's index keeps the cost flat.
IN_MEMORY_DENSE_MAX = 10_000
# How often a process re-reads the change counter; edits show up in search within this many seconds.
VERSION_CHECK_SECONDS = 1.0
# Question vectors kept per process, by exact text (~2 KiB each): embedding is most of a live turn's CPU, and
# buyers often send the same words — Avito offers them preset first messages ("Здравствуйте! Ещё продаёте?").
QUERY_VECTORS_KEPT = 2048
# Memory for the signals of recent questions on the current index (`KnowledgeIndex.signals_bytes` each: ~2 KiB on
# the demo shop's 82 passages, ~250 KiB on 10,000), at most QUERY_VECTORS_KEPT of them: a repeated question skips
# its lexical analysis and scoring as well as its embedding.
QUESTION_SIGNALS_BYTES = 16 * 2**20


def embedder_for(settings: Settings) -> Embedder:
    """The configured embeddings endpoint, else the offline model that ships in its package."""
    if settings.embeddings_base_url:
        return OpenAIEmbedder(
            base_url=settings.embeddings_base_url,
            model=settings.embeddings_model or "",
            api_key=settings.embeddings_api_key,
        )
    return LocalEmbedder()


def dense_sql(embedder: Embedder) -> str:
    """Nearest chunks by cosine, phrased so the planner uses `ensure_vector_index`'s expression index.

    Run it through `fetch_dense`, which gives the scan its `hnsw.ef_search`."""
    dim = int(embedder.dim)
    literal = embedder.name.replace("'", "''")
    return (
        f"SELECT a.external_id, ch.position, 1 - (ch.embedding::vector({dim}) <=> $1::vector({dim})) AS similarity "
        f"FROM kb_chunks ch JOIN kb_articles a ON a.id = ch.article_id "
        f"WHERE ch.embedder = '{literal}' ORDER BY ch.embedding::vector({dim}) <=> $1::vector({dim}) LIMIT $2"
    )


async def set_ef_search(conn: asyncpg.Connection) -> None:
    """`hnsw.ef_search` = HNSW_EF_SEARCH until the end of ``conn``'s current transaction (it must be in one)."""
    await conn.execute(queries.kb_hnsw_ef_search, str(HNSW_EF_SEARCH))


async def fetch_dense(conn: asyncpg.Connection, sql: str, vector: np.ndarray) -> dict[ChunkKey, float]:
    """The DENSE_CANDIDATES nearest chunks of ``vector`` (``sql`` from `dense_sql`): (external id, position) →
    cosine. Outside a transaction it opens one for `set_ef_search`; inside one, `set_ef_search` must have run."""
    if conn.is_in_transaction():
        rows = await conn.fetch(sql, vector, DENSE_CANDIDATES)
    else:
        async with conn.transaction():
            await set_ef_search(conn)
            rows = await conn.fetch(sql, vector, DENSE_CANDIDATES)
    return {(r["external_id"], r["position"]): float(r["similarity"]) for r in rows}


def nearest_in_memory(index: KnowledgeIndex, vector: np.ndarray) -> dict[ChunkKey, float] | None:
    """What `fetch_dense` answers, computed exactly from the index's own vectors; None when the index has none or
    is too big for it (IN_MEMORY_DENSE_MAX)."""
    matrix = index.chunk_vectors
    if matrix is None or len(matrix) > IN_MEMORY_DENSE_MAX:
        return None
    similarity = matrix @ l2_normalise(vector)[0]
    nearest = range(len(similarity))
    if len(similarity) > DENSE_CANDIDATES:
        nearest = np.argpartition(-similarity, DENSE_CANDIDATES - 1)[:DENSE_CANDIDATES]
    chunks = index.chunks
    return {(chunks[i].external_id, chunks[i].position): float(similarity[i]) for i in nearest}


async def load_index(conn: asyncpg.Connection, embedder: Embedder | None) -> KnowledgeIndex:
    """The retrieval index of the knowledge base ``conn`` sees: every article, the shop's synonyms and category
    titles, and the stored vectors of ``embedder`` (dense scoring only when there are any). Reads in one go, so
    inside a repeatable-read transaction the index is exactly that snapshot's; building (~1 s per 1,000
    passages) runs off the event loop."""
    articles = [dict(r) for r in await conn.fetch(queries.kb_load_articles)]
    synonyms = {r["term"]: list(r["synonyms"]) for r in await conn.fetch(queries.kb_list_synonyms)}
    titles = {r["slug"]: r["title"] for r in await conn.fetch(queries.kb_list_categories)}
    name = embedder.name if embedder is not None else None
    vectors = {
        (r["external_id"], r["position"]): r["embedding"].to_numpy().astype(np.float32)
        for r in await conn.fetch(queries.kb_load_chunks, name)
        if r["embedding"] is not None
    }
    for article in articles:
        article["item_ids"] = [str(i) for i in article.pop("avito_item_ids")]
    return await asyncio.to_thread(
        KnowledgeIndex,
        articles,
        synonyms=synonyms,
        category_titles=titles,
        embedder=embedder if vectors else None,
        chunk_vectors=vectors or None,
    )


class KnowledgeBase:
    """One per process: a cached index over the database's knowledge base, rebuilt after edits."""

    def __init__(self, pool: asyncpg.Pool, embedder: Embedder | None) -> None:
        self.pool = pool
        self.embedder = embedder
        self._index: KnowledgeIndex | None = None
        self._version: int | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()
        self._dense_sql = dense_sql(embedder) if embedder is not None else None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # question text → its vector, least recent first
        self._embedding_now: dict[str, asyncio.Future[np.ndarray]] = {}  # texts being embedded
        # The local model is CPU work: one thread for it, since several at once would only take the interpreter
        # from each other and from the event loop (at a burst of new questions, turns waited seconds for the
        # loop). A remote endpoint waits on the network, so its calls go out side by side.
        self._embed_in = ThreadPoolExecutor(1, "embedder") if isinstance(embedder, LocalEmbedder) else None
        self.vectors_reused = 0
        self.vectors_embedded = 0
        self._signals: OrderedDict[str, Signals] = OrderedDict()  # question text → its signals on _signals_index
        self._signals_index: KnowledgeIndex | None = None
        self._signals_kept = 0
        self.signals_reused = 0

    async def index(self) -> KnowledgeIndex:
        """The current index; re-reads the change counter at most once per VERSION_CHECK_SECONDS."""
        now = time.monotonic()
        if self._index is not None and now - self._checked < VERSION_CHECK_SECONDS:
            return self._index
        async with self._lock:
            version = await self.pool.fetchval(queries.kb_version) or 0
            self._checked = time.monotonic()
            if self._index is None or version != self._version:
                self._index = await self._build()
                self._version = version
        return self._index

    async def _build(self) -> KnowledgeIndex:
        async with self.pool.acquire() as conn:
            index = await load_index(conn, self.embedder)
            if self.embedder is not None and index.chunk_vectors is not None:
                await ensure_vector_index(conn, self.embedder)
        return index

    async def _query_vector(self, query: str) -> np.ndarray:
        """The question's embedding: the same text always gives the same vector, so a recent one is reused, and
        turns asking for a text already being embedded wait for that embedding rather than making their own."""
        if (vector := self._vectors.get(query)) is not None:
            self._vectors.move_to_end(query)
            self.vectors_reused += 1
            return vector
        if (pending := self._embedding_now.get(query)) is not None:
            self.vectors_reused += 1
            return (await asyncio.shield(pending))[0]
        assert self.embedder is not None
        pending = asyncio.get_running_loop().run_in_executor(self._embed_in, embed_queries, self.embedder, [query])
        self._embedding_now[query] = pending
        try:
            vectors = await asyncio.shield(pending)  # a cancelled turn leaves the embedding to the others waiting
        finally:
            del self._embedding_now[query]
        vectors.setflags(write=False)  # shared by every search of this text
        vector = vectors[0]
        self._vectors[query] = vector
        if len(self._vectors) > QUERY_VECTORS_KEPT:
            self._vectors.popitem(last=False)
        self.vectors_embedded += 1
        return vector

    async def search(
        self,
        query: str,
        *,
        top_k: int = 5,
        categories: Iterable[str] | None = None,
        item_title: str | None = None,
        item_id: int | None = None,
    ) -> list[Hit]:
        index = await self.index()
        return index.rank(
            await self._signals_of(index, query),
            top_k=top_k,
            categories=list(categories) if categories is not None else None,
            item_title=item_title,
            item_id=item_id,
        )

    async def _signals_of(self, index: KnowledgeIndex, query: str) -> Signals:
        """The question's signals on ``index`` (lexical and dense), computed once per distinct text while the
        index lasts: `KnowledgeIndex.rank` ranks them again under each listing and category filter."""
        if self._signals_index is not index:
            self._signals.clear()
            self._signals_index = index
            self._signals_kept = min(QUERY_VECTORS_KEPT, max(1, QUESTION_SIGNALS_BYTES // index.signals_bytes))
        if (found := self._signals.get(query)) is not None:
            self._signals.move_to_end(query)
            self.signals_reused += 1
            return found
        dense: dict[ChunkKey, float] | None = None
        if index.weighs_dense and self.embedder is not None and self._dense_sql is not None:
            query_vector = await self._query_vector(query)
            if (dense := nearest_in_memory(index, query_vector)) is None:
                async with self.pool.acquire() as conn:
                    dense = await fetch_dense(conn, self._dense_sql, query_vector)
        found = index.signals(query, dense_scores=dense)
        if self._signals_index is index:  # not rebuilt while this question waited for its vector
            self._signals[query] = found
            if len(self._signals) > self._signals_kept:
                self._signals.popitem(last=False)
        return found
