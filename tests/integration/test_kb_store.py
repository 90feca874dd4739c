"""Writing the knowledge base into real PostgreSQL: idempotent imports, re-chunking, replace, CRUD."""

from pathlib import Path

import asyncpg
import pytest

from core.errors import InvalidInput, NotFound
from core.kb import store
from core.kb.json_import import parse_json
from core.kb.models import ArticleIn, CategoryIn, KbImport

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "kb.sample.json"


async def test_import_is_idempotent_and_reports_counts(pool: asyncpg.Pool) -> None:
    doc = parse_json(SAMPLE.read_bytes())
    first = await store.apply_import(pool, doc, embedder=None)
    assert (first.created, first.updated, first.unchanged, first.categories_created) == (6, 0, 0, 5)
    version = (await store.stats(pool)).version

    again = await store.apply_import(pool, doc, embedder=None)
    assert (again.created, again.updated, again.unchanged, again.categories_created) == (0, 0, 6, 0)
    assert (await store.stats(pool)).version == version  # nothing changed, caches stay valid

    stats = await store.stats(pool)
    assert stats.articles == 6 and stats.categories == 5 and stats.chunks >= 6


async def test_editing_an_article_rechunks_it(pool: asyncpg.Pool) -> None:
    await store.apply_import(pool, parse_json(SAMPLE.read_bytes()), embedder=None)
    before = await store.get_article(pool, "d1")
    long_text = " ".join(f"Предложение номер {i} про доставку велосипедов по Казани." for i in range(20))
    updated = await store.save_article(
        pool, ArticleIn(external_id="d1", title="Доставка", text=long_text, category="delivery"), embedder=None
    )
    assert updated.title == "Доставка" and updated.chunks > before.chunks
    rows = await pool.fetch("SELECT text FROM kb_chunks WHERE article_id = $1 ORDER BY position", updated.id)
    assert all(r["text"].startswith("Доставка. ") for r in rows)
    # The tsvector follows the new text.
    hit = await pool.fetchval(
        "SELECT count(*) FROM kb_chunks WHERE article_id = $1 AND tsv @@ plainto_tsquery('russian', 'предложения')",
        updated.id,
    )
    assert hit > 0


async def test_delete_removes_chunks(pool: asyncpg.Pool) -> None:
    await store.apply_import(pool, parse_json(SAMPLE.read_bytes()), embedder=None)
    article = await store.get_article(pool, "g1")
    await store.delete_article(pool, "g1")
    assert await pool.fetchval("SELECT count(*) FROM kb_chunks WHERE article_id = $1", article.id) == 0
    with pytest.raises(NotFound):
        await store.get_article(pool, "g1")
    with pytest.raises(NotFound):
        await store.delete_article(pool, "g1")


async def test_replace_deletes_only_articles_of_the_same_source(pool: asyncpg.Pool) -> None:
    await store.apply_import(pool, parse_json(SAMPLE.read_bytes()), embedder=None)
    await store.save_article(pool, ArticleIn(external_id="manual-1", title="Ручная", text="Текст."), embedder=None)
    smaller = KbImport(
        source="json",
        articles=[ArticleIn(external_id="d1", title="Доставка по городу", text="Новый текст.", category="delivery")],
    )
    report = await store.apply_import(pool, smaller, embedder=None, replace=True)
    assert (report.updated, report.deleted) == (1, 5)
    remaining = {a.external_id for a in (await store.list_articles(pool))[0]}
    assert remaining == {"d1", "manual-1"}


async def test_unknown_category_rejects_the_whole_import(pool: asyncpg.Pool) -> None:
    doc = KbImport(
        source="json",
        articles=[
            ArticleIn(external_id="ok", title="Хорошая", text="Текст."),
            ArticleIn(external_id="bad", title="Плохая", text="Текст.", category="nowhere"),
        ],
    )
    with pytest.raises(InvalidInput, match=r'"bad".*"nowhere"'):
        await store.apply_import(pool, doc, embedder=None)
    assert (await store.stats(pool)).articles == 0


async def test_categories_and_synonyms(pool: asyncpg.Pool) -> None:
    created = await store.create_category(pool, CategoryIn(slug="service", title="Сервис"))
    assert created.articles == 0
    renamed = await store.update_category(pool, "service", "Ремонт и сервис", 3)
    assert renamed.title == "Ремонт и сервис" and renamed.position == 3
    with pytest.raises(InvalidInput):
        await store.create_category(pool, CategoryIn(slug="Плохой", title="x"))
    await store.delete_category(pool, "service")
    with pytest.raises(NotFound):
        await store.get_category(pool, "service")

    entry = await store.set_synonyms(pool, "  Велик ", ["велосипед", "ВЕЛИК", "байк"])
    assert entry.term == "велик" and entry.synonyms == ["велосипед", "байк"]
    await store.set_synonyms(pool, "велик", ["велосипед"])
    assert [(s.term, s.synonyms) for s in await store.list_synonyms(pool)] == [("велик", ["велосипед"])]
    with pytest.raises(InvalidInput):
        await store.set_synonyms(pool, "нал", ["нал"])
    await store.delete_synonym(pool, "ВЕЛИК")
    assert await store.list_synonyms(pool) == []


async def test_vectors_go_to_pgvector_with_an_hnsw_index_that_search_uses(pool: asyncpg.Pool) -> None:
    from core.kb.search import KnowledgeBase, dense_sql, fetch_dense, load_index, nearest_in_memory
    from graphs.retrieval import LocalEmbedder

    embedder = LocalEmbedder("use")
    await store.apply_import(pool, parse_json(SAMPLE.read_bytes()), embedder=embedder)
    stats = await store.stats(pool)
    assert stats.embedded_chunks == stats.chunks and stats.embedders == {embedder.name: stats.chunks}
    index_name = store.vector_index_name(embedder)
    assert await pool.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = $1", index_name) is not None

    # The planner picks the HNSW index for the dense query once a sequential scan is not an option.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        vector = embedder.embed(["доставка"])[0]
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + dense_sql(embedder), vector, 5))
    assert index_name in plan

    kb = KnowledgeBase(pool, embedder)
    hits = await kb.search("привезёте велосипед домой?", top_k=3)
    assert hits[0].external_id == "d1"
    # USE's cosine is not weighed by the ranking: the question is not embedded, the ranking is the lexical one.
    assert kb.vectors_embedded == 0
    assert hits == await KnowledgeBase(pool, None).search("привезёте велосипед домой?", top_k=3)

    # A base this small is searched in memory: the same nearest chunks as pgvector's answer, the same cosines.
    async with pool.acquire() as conn:
        index = await load_index(conn, embedder)
        for question in ("привезёте велосипед домой?", "можно оплатить картой", "гарантия на раму"):
            vector = embedder.embed_queries([question])[0]
            in_memory = nearest_in_memory(index, vector)
            from_pgvector = await fetch_dense(conn, dense_sql(embedder), vector)
            assert in_memory is not None and in_memory.keys() == from_pgvector.keys()
            assert all(abs(in_memory[key] - from_pgvector[key]) < 1e-5 for key in in_memory)

    # Switching embedders: reindex re-embeds every chunk with the new one and creates its index.
    other = LocalEmbedder("wordllama")
    progress: list[tuple[int, int]] = []
    assert await store.reindex(pool, other, batch=4, progress=lambda d, t: progress.append((d, t))) == stats.chunks
    assert progress[-1] == (stats.chunks, stats.chunks)
    assert (await store.stats(pool)).embedders == {other.name: stats.chunks}
    assert await store.reindex(pool, other) == 0  # resumable: nothing left


async def test_a_repeated_question_reuses_its_signals_until_the_base_changes(pool: asyncpg.Pool) -> None:
    import asyncio

    from core.kb.search import VERSION_CHECK_SECONDS, KnowledgeBase

    await store.apply_import(pool, parse_json(SAMPLE.read_bytes()), embedder=None)
    kb = KnowledgeBase(pool, None)
    question = "есть ли у вас сертификат на самокат?"
    first = await kb.search(question, top_k=3)
    assert await kb.search(question, top_k=3) == first
    assert kb.signals_reused == 1
    # Under a listing the same signals are ranked again, not recomputed.
    await kb.search(question, top_k=3, item_title="Горный велосипед Stels Navigator 700")
    assert kb.signals_reused == 2

    # An edit moves the base's version: the next search after the check interval sees it, not the cached signals.
    await store.save_article(
        pool,
        ArticleIn(
            external_id="d1", title="Сертификат на самокат", text="Сертификат на самокат есть.", category="delivery"
        ),
        embedder=None,
    )
    await asyncio.sleep(VERSION_CHECK_SECONDS + 0.1)
    [best, *_] = await kb.search(question, top_k=3)
    assert best.external_id == "d1" and best.external_id != first[0].external_id
    assert kb.signals_reused == 2


async def test_concurrent_turns_with_one_new_question_embed_it_once(pool: asyncpg.Pool) -> None:
    import asyncio

    from core.kb.search import KnowledgeBase
    from graphs.retrieval import LocalEmbedder

    embedder = LocalEmbedder("wordllama")  # an embedder whose cosine the ranking weighs (USE's is not)
    await store.apply_import(pool, parse_json(SAMPLE.read_bytes()), embedder=embedder)
    kb = KnowledgeBase(pool, embedder)
    questions = ["доставка до двери есть?"] * 5 + ["а гарантия какая?"] * 3
    results = await asyncio.gather(*(kb.search(q, top_k=2) for q in questions))
    assert kb.vectors_embedded == 2  # one embedding per distinct text, however many turns asked at once
    assert results[0] == results[4] and results[5] == results[7]
    assert results[0][0].external_id != results[5][0].external_id
