"""Behaviour of the retrieval engine (graphs.retrieval): things that can silently break answer quality."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from graphs.retrieval import (
    Article,
    KnowledgeIndex,
    LocalEmbedder,
    OpenAIEmbedder,
    SynonymTable,
    chunk_article,
    cyrillic_renderings,
    split_sentences,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo() -> KnowledgeIndex:
    data = json.loads((ROOT / "core/demo/kb.json").read_text(encoding="utf-8"))
    categories = {c["slug"]: c["title"] for c in data["categories"]}
    return KnowledgeIndex(data["articles"], category_titles=categories)


def top(index: KnowledgeIndex, query: str, k: int = 1, **kwargs: object) -> list[str]:
    return [h.external_id for h in index.search(query, top_k=k, **kwargs)]  # type: ignore[arg-type]


# Small synthetic shops: each test controls exactly which words the articles contain.
SHOP = [
    Article("pay", "Способы оплаты", "Принимаем наличные и банковские карты при получении заказа.", category="payment"),
    Article(
        "ship",
        "Доставка по России",
        "Отправляем транспортной компанией, срок от трёх до семи дней.",
        category="delivery",
    ),
    Article(
        "ebike",
        "Электровелосипед Kugoo Kirin V1",
        "Мотор 350 Вт, запас хода до 45 км, складная рама. Цена 52 900 рублей.",
        category="products",
    ),
    Article(
        "scooter",
        "Самокат городской",
        "Складной самокат с колёсами 200 мм, выдерживает до 100 кг.",
        category="products",
    ),
    Article(
        "bike",
        "Велосипед Стелс Навигатор",
        "Горный велосипед на колёсах 27,5 дюйма, алюминиевая рама, 21 скорость.",
        category="products",
    ),
]


@pytest.fixture(scope="module")
def shop() -> KnowledgeIndex:
    return KnowledgeIndex(SHOP)


# ------------------------------------------------------------------------------------------------
# Alias layer
# ------------------------------------------------------------------------------------------------


def test_latin_typed_russian_question_finds_cyrillic_article(shop: KnowledgeIndex) -> None:
    assert top(shop, "oplata nalichnymi pri poluchenii?") == ["pay"]
    assert top(shop, "dostavka po rossii skolko dney") == ["ship"]


def test_slang_from_default_synonyms(shop: KnowledgeIndex) -> None:
    # «налом» is nowhere in the articles; the default list maps нал → наличные.
    assert top(shop, "можно налом?") == ["pay"]
    # «велик» → велосипед
    assert top(shop, "велик горный есть?") == ["bike"]


def test_cyrillic_brand_finds_latin_brand_in_article(shop: KnowledgeIndex) -> None:
    # No tag spells Kugoo in Cyrillic: the brand matcher must render «kugoo» as «кугу».
    assert top(shop, "кугу на сколько км хватает") == ["ebike"]
    assert top(shop, "киринь складной?") == ["ebike"]  # one typo in the brand


def test_latin_brand_finds_cyrillic_brand_in_article(shop: KnowledgeIndex) -> None:
    assert top(shop, "stels navigator skolko skorostey") == ["bike"]


def test_brand_renderings() -> None:
    assert "кугу" in cyrillic_renderings("kugoo")
    assert "шулц" in cyrillic_renderings("shulz")
    assert "мерида" in cyrillic_renderings("merida")


def test_editing_shop_synonyms_changes_results() -> None:
    before = KnowledgeIndex(SHOP)
    hits = before.search("сколько стоит пепелац", top_k=1)
    assert hits[0].external_id != "ebike" or hits[0].score < 0.3
    after = KnowledgeIndex(SHOP, synonyms={"электровелосипед": ["пепелац"]})
    hits = after.search("сколько стоит пепелац", top_k=1)
    assert hits[0].external_id == "ebike"
    assert hits[0].score > before.search("сколько стоит пепелац", top_k=1)[0].score


def test_dropping_a_default_synonym_removes_the_alias() -> None:
    table = SynonymTable.default().without("наличные")
    index = KnowledgeIndex(SHOP, synonyms=table)
    assert "~наличные" not in index.analyzer.query("можно налом?").slots[0]


def test_place_class_unless_the_shop_names_the_place(demo: KnowledgeIndex) -> None:
    # Самара is not in the articles: it stands for «другой город» → Авито Доставка в другие города.
    assert "d2" in top(demo, "в самару отправите?", k=3)
    # Казань is the shop's own city and named in its articles: city delivery, not the other-cities article.
    assert top(demo, "скока доставка по казани") == ["d1"]


def test_demo_kb_slang_and_abbreviations(demo: KnowledgeIndex) -> None:
    assert top(demo, "наложка есть?") == ["d3"]
    assert top(demo, "на бушные гарантия есть?") == ["r5"]
    assert top(demo, "шульц в багажник влезет?") == ["g8"]


# ------------------------------------------------------------------------------------------------
# Item-aware search and filters
# ------------------------------------------------------------------------------------------------


def test_item_title_prefers_the_listing_article(demo: KnowledgeIndex) -> None:
    q = "сколько скоростей"
    assert top(demo, q, item_title="Складной велосипед Shulz Hopper XL (новый)") == ["g8"]
    assert top(demo, q, item_title="Подростковый велосипед Stels Navigator 400 24 (новый)") == ["g16"]


def test_item_id_maps_to_article() -> None:
    arts = [
        *SHOP[:2],
        Article("a", "Самокат А", "Колёса 200 мм.", item_ids=("111",)),
        Article("b", "Самокат Б", "Колёса 200 мм.", item_ids=("222",)),
    ]
    index = KnowledgeIndex(arts)
    assert top(index, "какие колёса?", item_id=222) == ["b"]
    assert top(index, "какие колёса?", item_id="111") == ["a"]


def test_other_topic_under_a_listing_still_finds_its_article(demo: KnowledgeIndex) -> None:
    hits = top(demo, "халвой можно оплатить?", k=3, item_title="Горный велосипед Trek Marlin 5 (б/у, 2022)")
    assert "c2" in hits


def test_category_filter(demo: KnowledgeIndex) -> None:
    hits = demo.search("сколько стоит доставка велосипеда", top_k=5, categories={"payment"})
    assert hits
    assert {h.category for h in hits} == {"payment"}
    assert demo.search("доставка", categories=set()) == []


# ------------------------------------------------------------------------------------------------
# Scores and passages
# ------------------------------------------------------------------------------------------------


def test_ranking_one_questions_signals_again_gives_what_search_gives(demo: KnowledgeIndex) -> None:
    """Replay computes a question's signals once and ranks them under each chat's listing and filter."""
    listings = [None, "Горный велосипед Trek Marlin 5", "Складной велосипед Shulz Hopper XL", "нет такого"]
    dense = {("d2", 0): 0.9, ("g8", 0): 0.4}
    for question in ["доставка в самару?", "а вилка какая?", "халвой можно оплатить?", "здравствуйте", ""]:
        for dense_scores in (None, dense):
            signals = demo.signals(question, dense_scores=dense_scores)
            for listing in listings * 2:  # the second time from what the first ranking kept
                for categories in (None, ["delivery", "products"]):
                    asked = {"top_k": 3, "item_title": listing, "categories": categories}
                    expected = demo.search(question, dense_scores=dense_scores, **asked)  # type: ignore[arg-type]
                    assert demo.rank(signals, **asked) == expected, (question, listing, categories)  # type: ignore[arg-type]
    found = demo.item_articles(item_title=listings[1])  # remembered per listing, handed out as a copy
    found.append(-1)
    assert demo.item_articles(item_title=listings[1]) == found[:-1] and len(found) == 2


def test_scores_in_unit_range_and_sorted(demo: KnowledgeIndex) -> None:
    for q in ("доставка в москву", "торг есть?", "qwerty", "!!!", "заработок в телеграм"):
        hits = demo.search(q, top_k=10)
        scores = [h.score for h in hits]
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)


def test_garbage_scores_low_and_real_question_high(demo: KnowledgeIndex) -> None:
    garbage = demo.search("заработок в телеграм", top_k=1)[0].score
    real = demo.search("рассрочка без переплаты есть?", top_k=1)[0].score
    assert garbage < 0.5
    assert real > 0.7
    assert demo.search("здравствуйте!", top_k=1)[0].score == 0.0


def test_precise_question_scores_higher_than_vague(demo: KnowledgeIndex) -> None:
    precise = demo.search("подарочный сертификат сколько действует", top_k=1)[0]
    vague = demo.search("а подарить что-нибудь можно", top_k=1)[0]
    assert precise.external_id == "c5"
    assert precise.score > vague.score


def test_matching_passage_is_returned() -> None:
    text = (
        "Этот велосипед собран на заводе в Китае и прошёл проверку. Рама из алюминия, вилка пружинная. "
        "Колёса двойные, обода усиленные, спицы из нержавейки. Подходит для города и парков. "
        "Аккумулятор на 36 вольт заряжается за пять часов от обычной розетки. Гарантия на мотор один год."
    )
    index = KnowledgeIndex([Article("x", "Электровелосипед Тест", text), *SHOP[:2]])
    assert len([c for c in index.chunks if c.external_id == "x"]) >= 2
    hit = index.search("за сколько заряжается аккумулятор", top_k=1)[0]
    assert hit.external_id == "x"
    assert "заряжается" in hit.passage
    assert "собран на заводе" not in hit.passage
    assert hit.position > 0


# ------------------------------------------------------------------------------------------------
# Chunking
# ------------------------------------------------------------------------------------------------


def test_sentence_split_keeps_abbreviations() -> None:
    sents = split_sentences("Магазин: Казань, ул. Вишнёвая, 12. Открыто с 10:00 до 20:00. Звоните!")
    assert sents == ["Магазин: Казань, ул. Вишнёвая, 12.", "Открыто с 10:00 до 20:00.", "Звоните!"]


def test_chunks_are_short_titled_and_cover_the_text() -> None:
    text = " ".join(f"Предложение номер {i} рассказывает о важном свойстве товара." for i in range(12))
    chunks = chunk_article("a", "Заголовок", text)
    assert len(chunks) > 2
    assert all(c.text.startswith("Заголовок. ") for c in chunks)
    assert all(1 <= c.passage.count(".") <= 4 for c in chunks)
    assert " ".join(c.passage for c in chunks) == text
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert chunk_article("b", "Только заголовок", "")[0].passage == "Только заголовок"


# ------------------------------------------------------------------------------------------------
# Dense part: pluggable vectors and hooks
# ------------------------------------------------------------------------------------------------


class _KeywordEmbedder:
    """A deterministic toy embedder: one dimension per keyword (enough to test the plumbing)."""

    name = "toy"
    keywords = ("мотор", "самокат", "оплат", "доставк")
    dim = len(keywords)

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = [[float(k in t.lower()) for k in self.keywords] for t in texts]
        m = np.asarray(rows, dtype=np.float32) + 1e-3
        return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_dense_scores_hook_changes_ranking(shop: KnowledgeIndex) -> None:
    q = "хочу что-нибудь интересное"
    lexical = shop.search(q, top_k=1, use_dense=False)[0].score
    hits = shop.search(q, top_k=2, dense_scores={("scooter", 0): 0.95, ("pay", 0): 0.1})
    assert hits[0].external_id == "scooter"
    assert hits[0].score > lexical


def test_embedder_and_precomputed_vectors_agree() -> None:
    emb = _KeywordEmbedder()
    built = KnowledgeIndex(SHOP, embedder=emb)
    vectors = emb.embed([c.text for c in built.chunks])
    given = KnowledgeIndex(SHOP, embedder=emb, chunk_vectors=vectors)
    by_key = KnowledgeIndex(
        SHOP,
        embedder=emb,
        chunk_vectors={(c.external_id, c.position): v for c, v in zip(built.chunks, vectors, strict=True)},
    )
    q = "мотор мощный?"
    assert built.search(q, top_k=3) == given.search(q, top_k=3) == by_key.search(q, top_k=3)
    assert built.chunk_vectors is not None and built.chunk_vectors.shape == (len(built.chunks), emb.dim)
    with pytest.raises(ValueError):
        KnowledgeIndex(SHOP, chunk_vectors=np.zeros((1, 4), dtype=np.float32))


def test_dense_hook_in_constructor_is_called() -> None:
    calls: list[str] = []

    def hook(q: str) -> dict[tuple[str, int], float]:
        calls.append(q)
        return {("ship", 0): 0.9}

    index = KnowledgeIndex(SHOP, dense_hook=hook)
    index.search("как получить заказ", top_k=1)
    assert calls == ["как получить заказ"]


def test_openai_embedder_batches_orders_and_retries() -> None:
    seen: list[int] = []
    failures = {"left": 1}

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert request.url.path == "/v1/embeddings"
        assert request.headers["Authorization"] == "Bearer k"
        if failures["left"]:
            failures["left"] -= 1
            return httpx.Response(503, json={"error": "busy"})
        seen.append(len(body["input"]))
        data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(body["input"])]
        return httpx.Response(200, json={"data": list(reversed(data)), "model": body["model"]})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    emb = OpenAIEmbedder(base_url="http://emb.test/v1/", model="m", api_key="k", batch_size=2, client=client)
    out = emb.embed(["a", "bbb", "cc"])
    assert seen == [2, 1]
    assert out.shape == (3, 3) and emb.dim == 3
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    assert out[1, 0] > out[2, 0] > out[0, 0]  # order restored from "index", not response order


def test_openai_embedder_does_not_retry_client_errors() -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(401, json={"error": "bad key"})

    emb = OpenAIEmbedder(
        base_url="http://emb.test/v1", model="m", client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    with pytest.raises(httpx.HTTPStatusError):
        emb.embed(["x"])
    assert calls["n"] == 1


def test_local_embedder_is_offline_and_normalised() -> None:
    pytest.importorskip("wordllama")
    emb = LocalEmbedder("wordllama")
    out = emb.embed(["доставка по городу", "рассрочка без переплаты"])
    assert out.shape == (2, emb.dim) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-4)
    with pytest.raises(ValueError):
        LocalEmbedder("no-such-model")  # type: ignore[arg-type]


def test_nearest_in_memory_is_the_exact_top_of_a_bigger_base() -> None:
    from core.kb.search import DENSE_CANDIDATES, nearest_in_memory
    from graphs.retrieval import l2_normalise

    articles = [Article(f"a{i}", f"Товар номер {i}", f"Описание товара {i}.", category="products") for i in range(150)]
    vectors = np.random.default_rng(5).normal(size=(150, 16)).astype(np.float32)
    index = KnowledgeIndex(articles, chunk_vectors=vectors)
    assert len(index.chunks) == 150
    question = np.random.default_rng(6).normal(size=16).astype(np.float32)
    cosines = l2_normalise(vectors) @ l2_normalise(question)[0]
    expected = {(f"a{i}", 0): float(cosines[i]) for i in np.argsort(-cosines)[:DENSE_CANDIDATES]}
    found = nearest_in_memory(index, question)
    assert found is not None and found.keys() == expected.keys()
    assert all(abs(found[key] - expected[key]) < 1e-6 for key in found)
    assert nearest_in_memory(KnowledgeIndex(articles), question) is None  # no vectors: pgvector's turn


def test_an_embedder_the_ranking_does_not_weigh_is_not_asked_to_embed_questions(demo: KnowledgeIndex) -> None:
    """USE's fitted weight is negative: an index holding its vectors ranks exactly as the lexical one and never
    embeds a question; asked explicitly (``use_dense=True``, the retrieval benchmark), it still scores the cosine.
    wordllama's weight is positive: its index weighs the cosine by default."""
    from graphs.retrieval.index import DENSE_MODELS, LEXICAL_MODEL

    class Counting:
        def __init__(self, name: str, dim: int) -> None:
            self.name, self.dim, self.calls = name, dim, 0

        def embed(self, texts: list[str]) -> np.ndarray:
            self.calls += 1
            rows = np.random.default_rng(len(texts[0])).normal(size=(len(texts), self.dim))
            return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    articles, titles = demo.articles, demo.category_titles
    vectors = np.random.default_rng(3).normal(size=(len(demo.chunks), 8)).astype(np.float32)
    use = Counting("use-multilingual-v3", 8)
    assert DENSE_MODELS[use.name].weights["dense"] <= 0
    unweighed = KnowledgeIndex(articles, category_titles=titles, embedder=use, chunk_vectors=vectors)
    assert not unweighed.weighs_dense and unweighed.score_model is LEXICAL_MODEL
    for question in ("доставка в Казань есть?", "рама какая у велосипеда?", "можно картой?"):
        assert unweighed.search(question, top_k=5) == demo.search(question, top_k=5)
    assert use.calls == 0
    assert unweighed.signals("можно картой?", use_dense=True).dense is not None and use.calls == 1

    wordllama = Counting("wordllama-l2-supercat-256", 8)
    weighed = KnowledgeIndex(articles, category_titles=titles, embedder=wordllama, chunk_vectors=vectors)
    assert weighed.weighs_dense and weighed.signals("можно картой?").dense is not None and wordllama.calls == 1
