"""``KnowledgeIndex``: hybrid retrieval over one shop's knowledge base, in process.

Signals (all computed per passage, then taken per article as the best passage's value):

* ``bm25`` — BM25 over lemmas + alias concepts, normalised to "share of the question explained";
* ``coverage`` / ``noun_missing`` — the share of the question's IDF mass the passage contains, and the share
  held by *nouns* it lacks (an unexplained noun — «заработок» in «заработок в телеграм» — means the question
  is about something else; an unexplained verb rarely does);
* ``char`` — cosine of character 3–5-gram TF-IDF on folded text (typos, stems, partial names);
* ``meta`` — BM25 of the question against the article's title, tags and category alone: a tag is the shop
  saying "this article is about X", which is stronger evidence than X appearing in passing;
* ``dense`` — cosine of the question and passage embeddings, when an embedder, precomputed vectors or a
  ``dense_scores`` hook (pgvector in production) is available.

They are combined by a logistic model whose weights were fitted on the DEV half of the labelled question set
plus a list of off-topic chat messages (``python benchmarks/retrieval.py --fit``). The score estimates the
probability that the article answers the question, is absolute (not min–max normalised within a query) and is
therefore comparable across questions, which is what lets a Confidence node threshold it. Measured on all 244
labelled questions (top hit) and 22 off-topic messages of the demo shop:

* ``≥ 0.7`` — the top hit is right ≈ 93% of the time: answer from it.
* ``0.5–0.7`` — right in nearly all cases seen (28/28); answer, perhaps with the passage quoted.
* ``0.3–0.5`` — right ≈ 85%: answer with a hedge or ask a clarifying question.
* ``< 0.3`` — all 22 off-topic messages land here (max 0.28), but so do terse colloquial questions the
  articles barely share a word with (their top hit is still right ≈ 78%): show candidates or hand over.

«заработок в телеграм» scores ≈ 0.35 (one rare word matches the contacts article's tag «телеграм»; the
lexical signals cannot tell spam from a terse real question, and no offline embedder could either). A question
made only of filler («здравствуйте») scores 0 everywhere. With an embedder the thresholds hold only for a
model with its own fitted :class:`ScoreModel` (:data:`DENSE_MODELS`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from graphs import russian

from .aliases import BrandMatcher, SynonymTable
from .analysis import BOUNDARY, Analyzer, QueryTerms
from .chunking import Chunk, chunk_article
from .embedders import Embedder, embed_queries, l2_normalise
from .lexical import BM25Index, CharNgramIndex
from .terms import char_text

__all__ = ["SIGNALS", "Article", "ChunkKey", "DenseHook", "Hit", "KnowledgeIndex", "ScoreModel", "Signals"]

ChunkKey = tuple[str, int]
"""``(article external_id, chunk position)`` — the key of ``kb_chunks`` rows and of dense scores."""

DenseHook = Callable[[str], Mapping[ChunkKey, float]]
"""Given a question, cosine similarity for (some) chunks — e.g. the top 50 from a pgvector HNSW query."""


@dataclass(frozen=True, slots=True)
class Article:
    """One knowledge-base article as the index needs it (a ``kb_articles`` row)."""

    external_id: str
    title: str
    text: str
    tags: tuple[str, ...] = ()
    category: str | None = None
    item_ids: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> Article:
        """Accept ``{external_id | id, title, text, tags, category, item_ids}`` dicts (DB rows, JSON files)."""
        ext = data.get("external_id", data.get("id"))
        if ext is None:
            raise ValueError("article needs an external_id")
        tags = data.get("tags") or ()
        items = data.get("item_ids") or data.get("avito_item_ids") or ()
        category = data.get("category")
        return cls(
            external_id=str(ext),
            title=str(data.get("title") or ""),
            text=str(data.get("text") or ""),
            tags=tuple(str(t) for t in tags),  # type: ignore[union-attr]
            category=None if category is None else str(category),
            item_ids=tuple(str(i) for i in items),  # type: ignore[union-attr]
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """A retrieved article: the best-matching passage of it and a calibrated score in [0, 1]."""

    external_id: str
    title: str
    category: str | None
    score: float
    passage: str
    position: int = 0


SIGNALS: tuple[str, ...] = ("bm25", "coverage", "noun_missing", "char", "meta", "dense")
# Listings (title, item id) whose articles an index remembers (:meth:`KnowledgeIndex.item_articles`).
ITEM_CACHE = 4096


@dataclass(frozen=True)
class ScoreModel:
    """Logistic combination of the per-article signals (see the module docstring).

    ``weights`` maps signal names (:data:`SIGNALS`) to coefficients; a missing signal contributes nothing.
    ``dense_center`` shifts the embedder's cosine so that 0 means "typical" for that model: cosines of
    different embedders live on different scales. ``item_prior`` is the probability that a question asked
    under a listing is about that listing before looking at its words.
    """

    bias: float
    weights: Mapping[str, float]
    dense_center: float = 0.0
    item_prior: float = 0.2

    def combine(self, signals: Mapping[str, np.ndarray | None]) -> np.ndarray:
        """Calibrated probability-like score for arrays of signals."""
        z: np.ndarray | float = self.bias
        for name, weight in self.weights.items():
            value = signals.get(name)
            if value is None or not weight:
                continue
            z = z + weight * (value - self.dense_center if name == "dense" else value)
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


# Fitted on the DEV half of tests/data/retrieval_questions.jsonl plus off-topic messages by
# `benchmarks/retrieval.py --fit` (logistic regression over each question's 15 hardest candidates).
LEXICAL_MODEL = ScoreModel(
    bias=-4.482,
    weights={"bm25": 2.217, "coverage": -0.007, "noun_missing": -3.456, "char": 9.599, "meta": 1.737},
)
DENSE_MODELS: dict[str, ScoreModel] = {
    # USE's cosine gets a slightly *negative* weight next to the lexical signals: it adds nothing here.
    "use-multilingual-v3": ScoreModel(
        bias=-4.426,
        weights={
            "bm25": 2.465,
            "coverage": -0.286,
            "noun_missing": -3.457,
            "char": 9.573,
            "meta": 1.63,
            "dense": -0.195,
        },
        dense_center=0.106,
    ),
    "multilingual-e5-small-q4": ScoreModel(
        bias=-4.461,
        weights={
            "bm25": 1.982,
            "coverage": 0.159,
            "noun_missing": -3.437,
            "char": 9.476,
            "meta": 1.748,
            "dense": 3.017,
        },
        dense_center=0.813,
    ),
    "wordllama-l2-supercat-256": ScoreModel(
        bias=-4.426,
        weights={
            "bm25": 2.092,
            "coverage": 0.242,
            "noun_missing": -3.515,
            "char": 9.429,
            "meta": 1.766,
            "dense": 1.447,
        },
        dense_center=0.666,
    ),
}
# For an embedder without a fitted model (an OpenAI-compatible endpoint, pgvector scores): the lexical model
# with a modest dense term centred on a typical cosine of unrelated text; refit with `--fit` once labelled
# questions exist for that embedder.
GENERIC_DENSE_MODEL = ScoreModel(
    bias=-4.482,
    weights={"bm25": 2.217, "coverage": -0.007, "noun_missing": -3.456, "char": 9.599, "meta": 1.737, "dense": 2.0},
    dense_center=0.3,
)


@dataclass
class Signals:
    """One question's per-passage signals (:meth:`KnowledgeIndex.signals`); read-only once made, so one question's
    signals may be ranked again under another listing or category filter (:meth:`KnowledgeIndex.rank`), which
    then reuses what does not depend on them (``memo``: the combined per-article scores, each article's best
    passage)."""

    bm25: np.ndarray
    coverage: np.ndarray
    noun_missing: np.ndarray
    char: np.ndarray
    meta: np.ndarray
    dense: np.ndarray | None
    query: QueryTerms = field(repr=False)
    memo: dict[object, object] = field(default_factory=dict, repr=False, compare=False)

    def per_article(self, starts: np.ndarray) -> dict[str, np.ndarray | None]:
        """Each signal's best value over an article's passages (``meta`` is per article already)."""
        out: dict[str, np.ndarray | None] = {
            "bm25": np.maximum.reduceat(self.bm25, starts),
            "coverage": np.maximum.reduceat(self.coverage, starts),
            "noun_missing": np.minimum.reduceat(self.noun_missing, starts),
            "char": np.maximum.reduceat(self.char, starts),
            "meta": self.meta,
            "dense": None if self.dense is None else np.maximum.reduceat(self.dense, starts),
        }
        return out

    def chunk_range(self, start: int, end: int, meta: float) -> dict[str, np.ndarray | None]:
        """The signals of one article's passages, for choosing the passage to return."""
        return {
            "bm25": self.bm25[start:end],
            "coverage": self.coverage[start:end],
            "noun_missing": self.noun_missing[start:end],
            "char": self.char[start:end],
            "meta": np.full(end - start, meta, dtype=np.float32),
            "dense": None if self.dense is None else self.dense[start:end],
        }


class KnowledgeIndex:
    """Hybrid lexical(+dense) retrieval over a shop's articles.

    Build once per knowledge-base version (≈1 s per 1,000 passages without an embedder) and share between
    requests; :meth:`search` is read-only and thread-safe.
    """

    def __init__(
        self,
        articles: Iterable[Article | Mapping[str, object]],
        *,
        synonyms: SynonymTable | Mapping[str, Sequence[str]] | None = None,
        category_titles: Mapping[str, str] | None = None,
        embedder: Embedder | None = None,
        chunk_vectors: np.ndarray | Mapping[ChunkKey, np.ndarray] | None = None,
        dense_hook: DenseHook | None = None,
        score_model: ScoreModel | None = None,
        max_chunk_chars: int = 280,
    ) -> None:
        """Index ``articles``.

        ``synonyms``: a :class:`SynonymTable`, or the shop's ``term → synonyms`` rows to add to the default
        Russian list (None = default list only). ``chunk_vectors``: precomputed passage embeddings, either a
        matrix aligned with :attr:`chunks` or a mapping by :data:`ChunkKey` (missing chunks are embedded with
        ``embedder`` if given, else get no dense signal). ``dense_hook``: used instead of in-memory vectors.
        """
        self.articles: list[Article] = [a if isinstance(a, Article) else Article.from_mapping(a) for a in articles]
        ids = [a.external_id for a in self.articles]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate article external_id")
        self.category_titles = dict(category_titles or {})
        if synonyms is None:
            table = SynonymTable.default()
        elif isinstance(synonyms, SynonymTable):
            table = synonyms
        else:
            table = SynonymTable.default().merged(synonyms)
        self.synonyms = table
        self.embedder = embedder
        self.dense_hook = dense_hook

        # Passages, grouped by article so that per-article maxima are one np.maximum.reduceat.
        self.chunks: list[Chunk] = []
        starts: list[int] = []
        for art in self.articles:
            starts.append(len(self.chunks))
            self.chunks.extend(chunk_article(art.external_id, art.title, art.text, max_chars=max_chunk_chars))
        self._art_starts = np.asarray(starts, dtype=np.int64)
        self._chunk_art = np.repeat(
            np.arange(len(self.articles)), np.diff(np.append(self._art_starts, len(self.chunks)))
        )
        self._chunk_pos = {(c.external_id, c.position): i for i, c in enumerate(self.chunks)}
        self._art_pos = {a.external_id: i for i, a in enumerate(self.articles)}

        # Pass 1: alias-free analysis, which gives the vocabulary the alias layer depends on.
        # Title, tags and category are analysed once per article, not once per passage that repeats them.
        sep = [BOUNDARY]
        title_words = [Analyzer.words(a.title) for a in self.articles]
        tag_words = [[w for t in a.tags for w in (*Analyzer.words(t), BOUNDARY)] for a in self.articles]
        chunk_words = [
            title_words[self._chunk_art[i]] + sep + Analyzer.words(c.passage) + sep + tag_words[self._chunk_art[i]]
            for i, c in enumerate(self.chunks)
        ]
        meta_words = [
            title_words[i] + sep + tag_words[i] + Analyzer.words(self.category_titles.get(a.category or "", ""))
            for i, a in enumerate(self.articles)
        ]
        vocabulary: set[str] = set()
        surfaces: dict[str, str] = {}
        latin: set[str] = set()
        for words in (*chunk_words, *meta_words):
            for w in words:
                vocabulary.update(w.alts)
                if russian.has_latin(w.surface):
                    latin.add(w.surface)
                else:
                    surfaces.setdefault(w.surface, w.alts[-1])
        self.analyzer = Analyzer(table.compile(vocabulary), BrandMatcher(latin, surfaces))

        # Pass 2: the indices.
        self._bm25 = BM25Index([self.analyzer.document_terms(w) for w in chunk_words])
        self._meta = BM25Index([self.analyzer.document_terms(w) for w in meta_words])
        self._char = CharNgramIndex([Analyzer.char_text(w) for w in chunk_words])
        self._titles = CharNgramIndex([char_text(a.title) for a in self.articles])
        self._items: dict[str, list[int]] = {}
        for i, a in enumerate(self.articles):
            for item in a.item_ids:
                self._items.setdefault(item, []).append(i)
        self._categories = np.asarray([a.category or "" for a in self.articles], dtype=object)
        # A chat's listing is looked up on every search under it, and a shop has few listings next to its questions.
        self._item_lookup = lru_cache(maxsize=ITEM_CACHE)(self._find_item_articles)
        self._siblings = lru_cache(maxsize=ITEM_CACHE)(self._find_siblings)

        self._vectors = self._prepare_vectors(chunk_vectors)
        name = embedder.name if embedder is not None else ""
        dense_model = DENSE_MODELS.get(name, GENERIC_DENSE_MODEL)
        # Whether a question's embedding is worth making: only when the model fitted for this embedder gives its
        # cosine a positive weight. USE's is negative (-0.195): with or without it the 244 labelled questions
        # score the same Recall@3 (0.980, `benchmarks/retrieval.py`), while embedding the question triples the
        # time of a search (1.2 → 3.8 ms of CPU). Such an index ranks on the lexical model, and its questions
        # are not embedded unless a caller asks (``use_dense=True``: the retrieval benchmark, refitting).
        self.weighs_dense = (self._vectors is not None or dense_hook is not None) and (
            score_model or dense_model
        ).weights.get("dense", 0.0) > 0
        if score_model is not None:
            self.score_model = score_model
        elif not self.weighs_dense:
            self.score_model = LEXICAL_MODEL
        else:
            self.score_model = dense_model
        # Used when a call brings dense scores (``dense_scores=``) to an index built without vectors.
        self.dense_score_model = self.score_model if "dense" in self.score_model.weights else dense_model

    # ------------------------------------------------------------------------------------------------
    # Dense vectors
    # ------------------------------------------------------------------------------------------------

    def _prepare_vectors(self, chunk_vectors: np.ndarray | Mapping[ChunkKey, np.ndarray] | None) -> np.ndarray | None:
        if chunk_vectors is None:
            if self.embedder is None or not self.chunks:
                return None
            return l2_normalise(self.embedder.embed([c.text for c in self.chunks]))
        if isinstance(chunk_vectors, Mapping):
            missing = [i for i, c in enumerate(self.chunks) if (c.external_id, c.position) not in chunk_vectors]
            dim = (
                next(iter(chunk_vectors.values())).shape[-1]
                if chunk_vectors
                else (self.embedder.dim if self.embedder else 0)
            )
            matrix = np.zeros((len(self.chunks), dim), dtype=np.float32)
            for key, vec in chunk_vectors.items():
                i = self._chunk_pos.get(key)
                if i is not None:
                    matrix[i] = vec
            if missing and self.embedder is not None:
                matrix[missing] = self.embedder.embed([self.chunks[i].text for i in missing])
            return l2_normalise(matrix)
        matrix = np.asarray(chunk_vectors, dtype=np.float32)
        if matrix.shape[0] != len(self.chunks):
            raise ValueError(f"chunk_vectors has {matrix.shape[0]} rows for {len(self.chunks)} chunks")
        return l2_normalise(matrix)

    @property
    def signals_bytes(self) -> int:
        """About what one question's :class:`Signals` hold: five or six float32 arrays over the passages, and its
        terms (for sizing caches of them)."""
        return 1024 + 24 * len(self.chunks) + 4 * len(self.articles)

    @property
    def chunk_vectors(self) -> np.ndarray | None:
        """The in-memory passage embeddings aligned with :attr:`chunks` (to store them in pgvector)."""
        return self._vectors

    def _dense(
        self, query: str, dense_scores: Mapping[ChunkKey, float] | None, query_vector: np.ndarray | None
    ) -> np.ndarray | None:
        if dense_scores is None and self.dense_hook is not None:
            dense_scores = self.dense_hook(query)
        if dense_scores is not None:
            # Chunks the vector store did not return are treated as no closer than the farthest one it did.
            floor = min(dense_scores.values(), default=0.0)
            out = np.full(len(self.chunks), floor, dtype=np.float32)
            for key, value in dense_scores.items():
                i = self._chunk_pos.get(key)
                if i is not None:
                    out[i] = value
            return out
        if self._vectors is None:
            return None
        if query_vector is None:
            if self.embedder is None:
                return None
            query_vector = embed_queries(self.embedder, [query])[0]
        q = l2_normalise(np.asarray(query_vector, dtype=np.float32))[0]
        return self._vectors @ q

    # ------------------------------------------------------------------------------------------------
    # Search
    # ------------------------------------------------------------------------------------------------

    def signals(
        self,
        query: str,
        *,
        dense_scores: Mapping[ChunkKey, float] | None = None,
        query_vector: np.ndarray | None = None,
        use_dense: bool | None = None,
    ) -> Signals:
        """Per-chunk signals of ``query`` (exposed for the benchmark and for debugging a bad answer).

        ``use_dense``: None computes the dense signal when the caller brings it (``dense_scores``,
        ``query_vector``) or the index weighs it (:attr:`weighs_dense`)."""
        if use_dense is None:
            use_dense = self.weighs_dense or dense_scores is not None or query_vector is not None
        q = self.analyzer.query(query)
        lex = self._bm25.normalised(q.slots, q.nouns)
        char = self._char.scores(q.char_text)
        meta = self._meta.normalised(q.slots).bm25
        dense = self._dense(query, dense_scores, query_vector) if use_dense else None
        return Signals(
            bm25=lex.bm25,
            coverage=lex.coverage,
            noun_missing=lex.noun_missing,
            char=char,
            meta=meta,
            dense=dense,
            query=q,
        )

    def item_articles(self, *, item_title: str | None = None, item_id: str | int | None = None) -> list[int]:
        """Articles describing the listing a chat is under: by Avito item id, else by closest title."""
        return list(self._item_lookup(item_title or None, None if item_id is None else str(item_id)))

    def _find_item_articles(self, item_title: str | None, item_id: str | None) -> tuple[int, ...]:
        if item_id is not None and item_id in self._items:
            return tuple(self._items[item_id])
        if item_title:
            sims = self._titles.scores(char_text(item_title))
            if sims.size and float(sims.max()) >= 0.45:
                return (int(np.argmax(sims)),)
        return ()

    def search(
        self,
        query: str,
        *,
        top_k: int = 5,
        categories: Iterable[str] | None = None,
        item_title: str | None = None,
        item_id: str | int | None = None,
        dense_scores: Mapping[ChunkKey, float] | None = None,
        query_vector: np.ndarray | None = None,
        use_dense: bool | None = None,
    ) -> list[Hit]:
        """The ``top_k`` best articles for ``query``, best first, each with its best passage.

        ``categories``: only articles of these category slugs. ``item_title`` / ``item_id``: the listing the
        chat is under; its article gets a prior (``ScoreModel.item_prior``) so «а вилка какая?» is answered
        about that bike, while a clearly different topic («доставка в Москву?») still wins on its own
        evidence. ``dense_scores``: per-chunk cosines from an external vector store (overrides in-memory
        vectors); ``query_vector``: the question's embedding if the caller already has it; ``use_dense`` as
        in :meth:`signals`.
        """
        if not self.articles or top_k <= 0:
            return []
        sig = self.signals(query, dense_scores=dense_scores, query_vector=query_vector, use_dense=use_dense)
        return self.rank(sig, top_k=top_k, categories=categories, item_title=item_title, item_id=item_id)

    def rank(
        self,
        sig: Signals,
        *,
        top_k: int = 5,
        categories: Iterable[str] | None = None,
        item_title: str | None = None,
        item_id: str | int | None = None,
    ) -> list[Hit]:
        """:meth:`search` from a question's :meth:`signals`: ``search(q, **kw)`` is ``rank(signals(q), **kw)``.
        A caller that asks the same question under different listings computes its signals once."""
        if not self.articles or top_k <= 0:
            return []
        model = self.score_model if sig.dense is None else self.dense_score_model
        scores = sig.memo.get(id(model))
        if scores is None:  # never changed in place below: the listing and the filter work on copies
            scores = sig.memo[id(model)] = model.combine(sig.per_article(self._art_starts))
        assert isinstance(scores, np.ndarray)
        if sig.query.is_empty:
            scores = np.zeros_like(scores)
        items = self.item_articles(item_title=item_title, item_id=item_id)
        if items and model.item_prior > 0:
            scores = self._apply_item_prior(scores, items, model.item_prior)
        if categories is not None:
            allowed = set(categories)
            mask = np.asarray([c in allowed for c in self._categories], dtype=bool)
            scores = np.where(mask, scores, -1.0)
        k = min(top_k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        hits: list[Hit] = []
        for a in top:
            if scores[a] < 0:
                break
            hits.append(self._hit(int(a), float(scores[a]), sig, model))
        return hits

    def _apply_item_prior(self, scores: np.ndarray, items: list[int], prior: float) -> np.ndarray:
        """Prefer the listing's own article over its *siblings* (other articles of its category).

        A question under a listing that matches some product card («сколько скоростей?», «вилка какая?») is
        about the listing's product, so the listing's article inherits the best sibling's evidence, gets a
        noisy-OR ``prior`` on top, and the siblings are discounted by ``1 - prior``. Articles of other
        categories are untouched: «доставка в Москву?» under a listing is still answered by the delivery
        article on its own evidence (a flat boost of the listing cost a third of such questions on DEV).
        """
        scores = scores.copy()
        siblings = self._siblings(tuple(items))
        best_sibling = float(scores[siblings].max()) if siblings.any() else 0.0
        scores[items] = np.maximum(scores[items], best_sibling)
        scores[items] = 1.0 - (1.0 - scores[items]) * (1.0 - prior)
        scores[siblings] *= 1.0 - prior
        return scores

    def _find_siblings(self, items: tuple[int, ...]) -> np.ndarray:
        """The other articles of the listing's categories (a mask; cached per listing, never changed)."""
        item_mask = np.zeros(len(self.articles), dtype=bool)
        item_mask[list(items)] = True
        item_cats = {self._categories[i] for i in items}
        siblings = np.isin(self._categories, list(item_cats)) & ~item_mask
        siblings.flags.writeable = False
        return siblings

    def _hit(self, a: int, score: float, sig: Signals, model: ScoreModel) -> Hit:
        best = sig.memo.get((id(model), a))
        if best is None:
            start = int(self._art_starts[a])
            end = int(self._art_starts[a + 1]) if a + 1 < len(self._art_starts) else len(self.chunks)
            chunk_scores = model.combine(sig.chunk_range(start, end, float(sig.meta[a])))
            best = sig.memo[(id(model), a)] = start + int(np.argmax(chunk_scores))
        assert isinstance(best, int)
        art = self.articles[a]
        chunk = self.chunks[best]
        return Hit(
            external_id=art.external_id,
            title=art.title,
            category=art.category,
            score=round(min(1.0, max(0.0, score)), 4) if math.isfinite(score) else 0.0,
            passage=chunk.passage,
            position=chunk.position,
        )
