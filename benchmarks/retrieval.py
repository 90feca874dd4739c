"""Retrieval benchmark: Recall@1/@3, MRR and latency per method, on the labelled questions and at 10k chunks.

Usage::

    python benchmarks/retrieval.py [--questions tests/data/retrieval_questions.jsonl] [--kb core/demo/kb.json]
                                   [--embedders use,e5] [--chunks 10000] [--scale-embedder none] [--fit]

Prints ONE JSON object. The question set is split deterministically by a hash of the question text into a DEV
half (for tuning: synonyms, weights — ``--fit`` refits the score model on it) and a TEST half that is only ever
looked at through these aggregate numbers. Everything runs on one core (BLAS/OpenMP threads are pinned to 1
before numpy loads), which is the latency target's setting.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402 - the thread pins above must precede numpy's import
import hashlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphs.retrieval import KnowledgeIndex, LocalEmbedder, SynonymTable  # noqa: E402
from graphs.retrieval.chunking import chunk_article, split_sentences  # noqa: E402

Question = dict[str, Any]

# Off-topic chat messages sellers on Avito receive (spam, small talk, other people's business). They are no
# part of the labelled set; --fit uses them as questions no article answers, so that the score learns what an
# unanswerable question looks like, and the report shows how high they score.
OFF_TOPIC = (
    "заработок в интернете без вложений", "работа на дому для мам в декрете", "продам гараж недорого",
    "куплю айфон 13 срочно", "какая погода завтра будет", "кто вчера выиграл матч", "подпишись на мой канал",
    "вкладывай в крипту пока растет", "ставки на спорт с гарантией выигрыша", "ищу девушку для общения",
    "сдам квартиру посуточно", "перейдите по ссылке чтобы получить приз", "вы выиграли подарок заберите",
    "помогите решить задачу по математике", "рецепт борща с фасолью", "как быстро похудеть к лету",
    "бесплатные курсы программирования", "продаю аккаунт авито с отзывами", "накрутка отзывов недорого",
    "удаленная работа оператором чата", "инвестиции с доходом 30 процентов в месяц", "где купить щенка хаски",
)  # fmt: skip
Ranker = Callable[[Question], list[str]]


def split_of(question: str) -> str:
    """DEV or TEST, from a hash of the question text: stable across runs, machines and file order."""
    return "dev" if int(hashlib.sha256(question.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "test"


def load_questions(path: Path) -> list[Question]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_kb(path: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    articles = [
        {
            "external_id": a["id"],
            "title": a["title"],
            "text": a["text"],
            "tags": a.get("tags", []),
            "category": a.get("category"),
            "item_ids": a.get("item_ids", []),
        }
        for a in data["articles"]
    ]
    return articles, {c["slug"]: c["title"] for c in data.get("categories", [])}


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


def evaluate(questions: Sequence[Question], rank: Ranker) -> dict[str, float]:
    """Recall@1, Recall@3 (any relevant article in the top k), MRR@10 and per-question latency."""
    r1 = r3 = mrr = 0.0
    times: list[float] = []
    for q in questions:
        t0 = time.perf_counter()
        ranked = rank(q)
        times.append((time.perf_counter() - t0) * 1000.0)
        relevant = set(q["relevant"])
        hit_at = next((i for i, ext in enumerate(ranked[:10]) if ext in relevant), None)
        if hit_at is not None:
            r1 += hit_at == 0
            r3 += hit_at < 3
            mrr += 1.0 / (hit_at + 1)
    n = max(1, len(questions))
    return {
        "n": len(questions),
        "recall@1": round(r1 / n, 3),
        "recall@3": round(r3 / n, 3),
        "mrr": round(mrr / n, 3),
        "p50_ms": round(float(np.percentile(times, 50)), 2) if times else 0.0,
        "p95_ms": round(float(np.percentile(times, 95)), 2) if times else 0.0,
    }


def by_split(questions: Sequence[Question], rank: Ranker) -> dict[str, dict[str, float]]:
    dev = [q for q in questions if split_of(q["q"]) == "dev"]
    test = [q for q in questions if split_of(q["q"]) == "test"]
    rank(questions[0])  # warm caches (pymorphy, lru) so the first question's latency is not an outlier
    return {"dev": evaluate(dev, rank), "test": evaluate(test, rank), "all": evaluate(questions, rank)}


# --------------------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------------------


def article_ranker(index: KnowledgeIndex, signal: str) -> Ranker:
    """Rank articles by one raw signal (max over the article's passages) — the single-method baselines."""
    starts = index._art_starts
    ids = [a.external_id for a in index.articles]

    def rank(q: Question) -> list[str]:
        sig = index.signals(q["q"], use_dense=signal == "dense")
        values = getattr(sig, signal)
        art = values if signal == "meta" else np.maximum.reduceat(values, starts)
        order = np.argsort(-art, kind="stable")[:10]
        return [ids[i] for i in order]

    return rank


def calibration(index: KnowledgeIndex, questions: Sequence[Question]) -> dict[str, Any]:
    """How often the top hit is right, by its score: what a Confidence threshold on the score means."""
    buckets = ((0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 1.01))
    tops = []
    for q in questions:
        hit = index.search(q["q"], top_k=1, item_title=q.get("item_title"))[0]
        tops.append((hit.score, hit.external_id in q["relevant"]))
    out: dict[str, Any] = {}
    for lo, hi in buckets:
        inside = [ok for score, ok in tops if lo <= score < hi]
        out[f"{lo:.1f}-{min(hi, 1.0):.1f}"] = {
            "n": len(inside),
            "top1_correct": round(sum(inside) / len(inside), 3) if inside else None,
        }
    return out


def off_topic_scores(index: KnowledgeIndex, *, use_dense: bool = True) -> dict[str, float]:
    """Top-hit scores of the off-topic messages: how low an unanswerable question stays."""
    tops = [index.search(text, top_k=1, use_dense=use_dense)[0].score for text in OFF_TOPIC]
    return {"mean": round(float(np.mean(tops)), 3), "max": round(float(np.max(tops)), 3)}


def item_awareness(index: KnowledgeIndex, questions: Sequence[Question]) -> dict[str, Any]:
    """Item-aware retrieval both ways: labelled questions asked under a listing (Recall@1 with and without
    the listing), and questions *not* about a product re-asked under some listing (Recall@3 must hold)."""
    under = [q for q in questions if q.get("item_title")]
    listings = sorted({q["item_title"] for q in under})
    products = {a.external_id for a in index.articles if a.category == "products"}
    policy = [q for q in questions if not q.get("item_title") and not set(q["relevant"]) & products]

    def at(q: Question, k: int, item: str | None) -> bool:
        return any(h.external_id in q["relevant"] for h in index.search(q["q"], top_k=k, item_title=item))

    out: dict[str, Any] = {}
    for name, subset in (("dev", [q for q in under if split_of(q["q"]) == "dev"]), ("all", under)):
        out[f"under_listing_{name}"] = {
            "n": len(subset),
            "recall@1_with_listing": round(sum(at(q, 1, q["item_title"]) for q in subset) / max(1, len(subset)), 3),
            "recall@1_without_listing": round(sum(at(q, 1, None) for q in subset) / max(1, len(subset)), 3),
        }
    out["other_topics_under_unrelated_listing"] = {
        "n": len(policy),
        "recall@3_with_listing": round(
            sum(at(q, 3, listings[i % len(listings)]) for i, q in enumerate(policy)) / max(1, len(policy)), 3
        ),
        "recall@3_without_listing": round(sum(at(q, 3, None) for q in policy) / max(1, len(policy)), 3),
    }
    return out


def hybrid_ranker(index: KnowledgeIndex, *, use_dense: bool = True) -> Ranker:
    def rank(q: Question) -> list[str]:
        hits = index.search(q["q"], top_k=10, item_title=q.get("item_title"), use_dense=use_dense)
        return [h.external_id for h in hits]

    return rank


# --------------------------------------------------------------------------------------------------
# Distractors for the 10k-chunk run
# --------------------------------------------------------------------------------------------------

_BRANDS = (
    "Stark", "Altair", "Welt", "Pride", "Scott", "Specialized", "Cannondale", "Orbea", "Polygon", "Haro", "Kona",
    "Bergamont", "Centurion", "Lapierre", "Norco", "Marin", "Fuji", "Aist", "Desna", "Black One", "Maxiscoo",
    "Tech Team", "Mongoose", "Schwinn", "Bianchi", "Ghost", "Focus", "Kellys", "Silverback", "Rocky Mountain",
)  # fmt: skip
_MODELS = (
    "Aspect", "Element", "Vector", "Tracker", "Ranger", "Hunter", "Nova", "Orion", "Atlas", "Pulsar", "Comet", "Drift",
    "Summit", "Canyon", "Ridge", "Storm", "Blaze", "Falcon", "Raptor", "Viper", "Cobra", "Aero", "Flow", "Urban",
)  # fmt: skip
# Kinds of goods a bike shop could sell but the demo shop's articles do not describe, so a distractor is never a
# second valid answer to a labelled question (a second pump would be), only a lexically similar wrong one.
_KINDS = (
    "Самокат", "Беговел", "Электросамокат", "Тандем", "Велотренажёр", "Велостанок",
    "Велосумка на раму", "Велорюкзак", "Седло", "Педали", "Руль", "Вынос руля", "Подседельный штырь", "Цепь",
    "Кассета", "Система шатунов", "Каретка", "Тормозные колодки", "Тормозной тросик", "Звонок", "Зеркало заднего вида",
    "Флягодержатель", "Велобутылка", "Держатель телефона", "Подножка", "Велоочки", "Веломайка", "Велошорты",
    "Бахилы", "Наколенники", "Грипсы", "Обмотка руля", "Набор инструментов", "Ремкомплект",
    "Велочехол", "Кронштейн для хранения", "Детский прицеп", "Велоприцеп", "Самокат трюковой", "Скейтборд",
    "Роликовые коньки", "Моноколесо", "Гироскутер", "Электроскутер", "Сноуборд", "Лыжероллеры",
)  # fmt: skip
_NUM_RE = re.compile(r"\d+(?:[ ,.]\d+)?")


def distractor_articles(
    articles: Sequence[dict[str, Any]], n_chunks: int, index_chunks: int, seed: int = 7
) -> list[dict[str, Any]]:
    """Plausible extra product cards, deterministically, until the KB holds about ``n_chunks`` passages.

    A card is a kind of goods the shop does not describe (:data:`_KINDS`) under an invented brand and model,
    with attribute sentences (wheels, frame, weight, height, price, colours) recombined from two or three real
    products, brand names replaced and numbers jittered. So distractors share most of the catalogue's
    vocabulary — the hard case for lexical retrieval — while every labelled question keeps exactly its labelled
    answer(s): a card never duplicates a real product's kind or a policy article.
    """
    rng = random.Random(seed)
    products = [a for a in articles if a.get("category") == "products"]
    real_brands = sorted(
        {w for a in products for w in re.findall(r"[A-Z][A-Za-z.]+", a["title"])}, key=len, reverse=True
    )
    # Sentences after the first: the first one names the product («Stels Navigator 700, колёса …»).
    pool = [sent for a in products for sent in split_sentences(a["text"])[1:]]
    out: list[dict[str, Any]] = []
    total = index_chunks
    i = 0
    while total < n_chunks:
        kind, brand = rng.choice(_KINDS), rng.choice(_BRANDS)
        model = f"{rng.choice(_MODELS)} {rng.randint(1, 9)}{rng.choice(['', '0', '00'])}"

        def rebrand(text: str, brand: str = brand) -> str:
            for rb in real_brands:
                text = text.replace(rb, brand)
            return _NUM_RE.sub(
                lambda m: str(
                    max(1, round(float(m.group(0).replace(" ", "").replace(",", ".")) * rng.uniform(0.8, 1.25)))
                ),
                text,
            )

        sentences = rng.sample(pool, rng.randint(3, 6))
        text = f"{kind} {brand} {model} — новинка сезона. " + rebrand(" ".join(sentences))
        title = f"{kind} {brand} {model}"
        tags = [kind.lower(), brand.lower(), rng.choice(_MODELS).lower()]
        out.append({"external_id": f"x{i}", "title": title, "text": text, "tags": tags, "category": "products"})
        total += len(chunk_article(f"x{i}", title, text))
        i += 1
    return out


# --------------------------------------------------------------------------------------------------
# Fitting the score model on DEV
# --------------------------------------------------------------------------------------------------


def fit_score_model(index: KnowledgeIndex, questions: Sequence[Question], *, use_dense: bool) -> dict[str, Any]:
    """Logistic regression of "article answers the question" on the article-level signals, DEV only.

    Negatives are the 15 strongest non-answers of each question by a plain sum of signals: the easy
    negatives (64 per question) would otherwise dominate and teach the model little about the confusions
    that matter, while the calibration that matters is that of the top hits.
    """
    from sklearn.linear_model import LogisticRegression

    names = ["bm25", "coverage", "noun_missing", "char", "meta"] + (["dense"] if use_dense else [])
    ids = np.asarray([a.external_id for a in index.articles])
    rows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    negatives = [{"q": text, "relevant": []} for text in OFF_TOPIC]
    for q in [*questions, *negatives]:
        if q["relevant"] and split_of(q["q"]) != "dev":
            continue
        sig = index.signals(q["q"], use_dense=use_dense).per_article(index._art_starts)
        mat = np.stack([np.asarray(sig[n], dtype=np.float64) for n in names], axis=1)
        relevant = np.isin(ids, list(q["relevant"]))
        hard = np.argsort(-mat.sum(axis=1))[:15]
        pick = np.union1d(hard, np.flatnonzero(relevant))
        rows.append(mat[pick])
        labels.append(relevant[pick].astype(int))
    x = np.vstack(rows)
    y = np.concatenate(labels)
    center = 0.0
    if use_dense:
        center = float(np.median(x[:, -1]))
        x[:, -1] -= center
    model = LogisticRegression(C=10.0, max_iter=5000).fit(x, y)
    out: dict[str, Any] = {
        "bias": round(float(model.intercept_[0]), 3),
        "weights": {n: round(float(w), 3) for n, w in zip(names, model.coef_[0], strict=True)},
    }
    if use_dense:
        out["dense_center"] = round(center, 3)
    return out


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=ROOT / "tests/data/retrieval_questions.jsonl")
    parser.add_argument("--kb", type=Path, default=ROOT / "core/demo/kb.json")
    parser.add_argument(
        "--embedders",
        default="use,e5",
        help="comma-separated offline embedders to compare: use, e5, wordllama, or none",
    )
    parser.add_argument("--chunks", type=int, default=10_000, help="KB size for the scale run (0 to skip)")
    parser.add_argument(
        "--scale-embedder", default="none", help="also run the scale test with this embedder (slow: embeds every chunk)"
    )
    parser.add_argument("--fit", action="store_true", help="refit the score models on DEV and print them")
    args = parser.parse_args(argv)

    questions = load_questions(args.questions)
    articles, categories = load_kb(args.kb)
    names = [n for n in args.embedders.split(",") if n and n != "none"]
    report: dict[str, Any] = {
        "questions": len(questions),
        "articles": len(articles),
        "split": "sha256(question) even → dev, odd → test",
        "shipped_default": "lexical_hybrid: BM25 on lemmas+aliases, char 3-5-gram TF-IDF, title/tag field",
    }

    t0 = time.perf_counter()
    lexical = KnowledgeIndex(articles, category_titles=categories)
    report["build_s"] = {"lexical": round(time.perf_counter() - t0, 2)}
    report["chunks"] = len(lexical.chunks)
    plain = KnowledgeIndex(articles, category_titles=categories, synonyms=SynonymTable())
    plain.analyzer.brands = None

    if args.fit:
        report["fit"] = {"lexical": fit_score_model(lexical, questions, use_dense=False)}

    methods: dict[str, Any] = {
        "bm25_plain": by_split(questions, article_ranker(plain, "bm25")),
        "bm25_aliases": by_split(questions, article_ranker(lexical, "bm25")),
        "char_tfidf": by_split(questions, article_ranker(lexical, "char")),
        "lexical_hybrid": by_split(questions, hybrid_ranker(lexical, use_dense=False)),
    }
    report["off_topic_top_score"] = {"lexical_hybrid": off_topic_scores(lexical, use_dense=False)}
    for name in names:
        embedder = LocalEmbedder(name, threads=1)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        vectors = embedder.embed([c.text for c in lexical.chunks])
        report["build_s"][f"embed_chunks_{name}"] = round(time.perf_counter() - t0, 2)
        dense_index = KnowledgeIndex(articles, category_titles=categories, embedder=embedder, chunk_vectors=vectors)
        if args.fit:
            report["fit"][embedder.name] = fit_score_model(dense_index, questions, use_dense=True)
        methods[f"vector_{name}"] = by_split(questions, article_ranker(dense_index, "dense"))
        methods[f"hybrid_dense_{name}"] = by_split(questions, hybrid_ranker(dense_index))
        report["off_topic_top_score"][f"hybrid_dense_{name}"] = off_topic_scores(dense_index)
    report["methods"] = methods
    report["item_aware"] = item_awareness(lexical, questions)
    report["calibration_lexical_hybrid_all"] = calibration(lexical, questions)

    if args.chunks:
        extra = distractor_articles(articles, args.chunks, len(lexical.chunks))
        t0 = time.perf_counter()
        big = KnowledgeIndex([*articles, *extra], category_titles=categories)
        scale: dict[str, Any] = {
            "build_s": round(time.perf_counter() - t0, 2),
            "chunks": len(big.chunks),
            "articles": len(big.articles),
        }
        scale["lexical_hybrid"] = by_split(questions, hybrid_ranker(big, use_dense=False))
        if args.scale_embedder != "none":
            embedder = LocalEmbedder(args.scale_embedder, threads=1)  # type: ignore[arg-type]
            t0 = time.perf_counter()
            vectors = embedder.embed([c.text for c in big.chunks])
            scale[f"embed_chunks_{args.scale_embedder}_s"] = round(time.perf_counter() - t0, 2)
            big_dense = KnowledgeIndex(
                [*articles, *extra], category_titles=categories, embedder=embedder, chunk_vectors=vectors
            )
            scale[f"hybrid_dense_{args.scale_embedder}"] = by_split(questions, hybrid_ranker(big_dense))
        report["scale"] = scale

    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
