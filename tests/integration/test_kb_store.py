"""Writing the knowledge base into real PostgreSQL: idempotent imports, re-chunking, replace, CRUD."""

from pathlib import Path

import asyncpg
import pytest

from core.errors import InvalidInput, NotFound
from core.kb import store
from core.kb.json_import import parse_json
from core.kb.models import ArticleIn, CategoryIn, KbImport

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "samples" / "kb.sample.json"


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
