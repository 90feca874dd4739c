"""In-memory lexical indices: BM25 over lemmas (with query slots) and character n-gram TF-IDF.

Both are stored term-major (a CSR matrix with one row per term), so a query touches only the posting lists of
its own terms: with 10,000 chunks a query costs well under a millisecond instead of a pass over every chunk.

BM25 scores are normalised per query by the score an ideal passage would get — every slot matched once in a
passage of average length — so they read as "how much of the question the passage explains" and are
comparable between a two-word and a ten-word question. Words the knowledge base has never seen count with the
highest IDF: a question about something the shop does not write about («заработок в телеграм») must not look
fully explained because its one familiar word («телеграм») matched.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

__all__ = ["BM25Index", "CharNgramIndex", "SlotScores"]


class BM25Index:
    """Okapi BM25 over pre-analysed documents (lists of terms)."""

    def __init__(self, docs: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.n_docs = len(docs)
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[float] = []
        lengths = np.zeros(self.n_docs, dtype=np.float32)
        for d, terms in enumerate(docs):
            counts = Counter(terms)
            lengths[d] = len(terms)
            for term, tf in counts.items():
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(d)
                tfs.append(tf)
        self.vocab = vocab
        avgdl = float(lengths.mean()) if self.n_docs else 1.0
        self.avgdl = avgdl or 1.0
        row_arr = np.asarray(rows, dtype=np.int64)
        col_arr = np.asarray(cols, dtype=np.int64)
        tf_arr = np.asarray(tfs, dtype=np.float32)
        df = np.bincount(row_arr, minlength=len(vocab)).astype(np.float64)
        self.idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.unknown_idf = float(math.log1p((self.n_docs + 0.5) / 0.5))
        norm = k1 * (1.0 - b + b * lengths[col_arr] / self.avgdl)
        weights = self.idf[row_arr] * tf_arr * (k1 + 1.0) / (tf_arr + norm)
        self._postings = sp.csr_matrix(
            (weights.astype(np.float32), (row_arr, col_arr)), shape=(len(vocab), self.n_docs), dtype=np.float32
        )

    def term_idf(self, term: str) -> float | None:
        """IDF of a known term, None for a term no document contains."""
        i = self.vocab.get(term)
        return None if i is None else float(self.idf[i])

    def _row(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        i = self.vocab.get(term)
        if i is None:
            return None
        start, end = self._postings.indptr[i], self._postings.indptr[i + 1]
        return self._postings.indices[start:end], self._postings.data[start:end]

    def score_slots(self, slots: Sequence[Sequence[str]], nouns: Sequence[bool] | None = None) -> SlotScores:
        """BM25 with each slot counted once (its best alternative), plus the coverage statistics.

        The ideal score is the sum over slots of the IDF of the slot's rarest *known* alternative (the
        unknown-word IDF if none is known): what a passage of average length with every slot once would get.
        ``nouns`` flags the slots whose word is a noun; the IDF mass of those a document lacks is reported
        separately, because an unexplained *noun* («заработок» in «заработок в телеграм») says the question is
        about something else, while an unexplained verb or adverb («дайте», «примерно») rarely does.
        """
        scores = np.zeros(self.n_docs, dtype=np.float32)
        matched = np.zeros(self.n_docs, dtype=np.float32)
        noun_missing = np.zeros(self.n_docs, dtype=np.float32)
        ideal = 0.0
        for k, slot in enumerate(slots):
            is_noun = bool(nouns[k]) if nouns is not None else False
            rows = [r for r in (self._row(t) for t in slot) if r is not None]
            if not rows:
                ideal += self.unknown_idf
                if is_noun:
                    noun_missing += self.unknown_idf
                continue
            slot_idf = max(float(self.idf[self.vocab[t]]) for t in slot if t in self.vocab)
            ideal += slot_idf
            if len(rows) == 1:
                idx, w = rows[0]
                best = None
                scores[idx] += w
                matched[idx] += slot_idf
            else:
                best = np.zeros(self.n_docs, dtype=np.float32)
                for idx, w in rows:
                    np.maximum.at(best, idx, w)
                scores += best
                matched[best > 0] += slot_idf
            if is_noun:
                noun_missing += slot_idf
                if best is None:
                    noun_missing[rows[0][0]] -= slot_idf
                else:
                    noun_missing[best > 0] -= slot_idf
        return SlotScores(scores, matched, noun_missing, ideal)

    def normalised(self, slots: Sequence[Sequence[str]], nouns: Sequence[bool] | None = None) -> SlotScores:
        """:meth:`score_slots` with every array divided by the ideal score (see :class:`SlotScores`)."""
        raw = self.score_slots(slots, nouns)
        if raw.ideal <= 0:
            return raw
        return SlotScores(raw.bm25 / raw.ideal, raw.coverage / raw.ideal, raw.noun_missing / raw.ideal, 1.0)


@dataclass(frozen=True, slots=True)
class SlotScores:
    """Per-document BM25, matched IDF mass (*coverage*) and unexplained noun IDF mass; ``ideal`` is the divisor.

    Normalised (divided by the ideal score) they read as shares of the question: BM25 with term frequency (can
    exceed 1); coverage without it, in [0, 1], so one word repeated in a tag, the title and the text cannot
    make a two-word question look fully answered; noun_missing in [0, 1].
    """

    bm25: np.ndarray
    coverage: np.ndarray
    noun_missing: np.ndarray
    ideal: float


@lru_cache(maxsize=300_000)
def _word_ngrams(word: str, lo: int, hi: int) -> tuple[str, ...]:
    """Character n-grams of one space-padded word, as scikit-learn's ``char_wb`` makes them."""
    padded = f" {word} "
    grams: list[str] = []
    for n in range(lo, hi + 1):
        if n > len(padded):
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return tuple(grams)


class CharNgramIndex:
    """Cosine similarity of character 3–5-gram TF-IDF vectors (word-bounded, sublinear tf, smooth idf).

    Catches what lemmas miss: typos («доставочка»), unknown slang stems, partial brand names and compound
    words («велозамок» vs «замок»). Texts are expected already folded (:func:`terms.char_text`). The same
    weighting as scikit-learn's ``TfidfVectorizer(analyzer="char_wb", sublinear_tf=True)``, built directly:
    a catalogue repeats the same few thousand words, so n-gram ids are computed once per distinct word, which
    makes building 10,000 passages several times faster than the generic vectorizer.
    """

    def __init__(self, texts: Sequence[str], *, ngram_range: tuple[int, int] = (3, 5)) -> None:
        self.lo, self.hi = ngram_range
        self.n_docs = len(texts)
        self.vocab: dict[str, int] = {}
        word_ids: dict[str, np.ndarray] = {}
        indptr = [0]
        indices: list[np.ndarray] = []
        data: list[np.ndarray] = []
        for text in texts:
            parts = []
            for word in text.split():
                ids = word_ids.get(word)
                if ids is None:
                    ids = np.asarray(
                        [self.vocab.setdefault(g, len(self.vocab)) for g in _word_ngrams(word, self.lo, self.hi)],
                        dtype=np.int64,
                    )
                    word_ids[word] = ids
                parts.append(ids)
            if parts:
                uniq, counts = np.unique(np.concatenate(parts), return_counts=True)
            else:
                uniq, counts = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
            indices.append(uniq)
            data.append(counts.astype(np.float32))
            indptr.append(indptr[-1] + len(uniq))
        n_features = max(1, len(self.vocab))
        tf = sp.csr_matrix(
            (
                np.concatenate(data) if data else np.zeros(0, dtype=np.float32),
                np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
                np.asarray(indptr, dtype=np.int64),
            ),
            shape=(self.n_docs, n_features),
        )
        df = np.bincount(tf.indices, minlength=n_features).astype(np.float64)
        self.idf = (np.log((1.0 + self.n_docs) / (1.0 + df)) + 1.0).astype(np.float32)
        tf.data = (1.0 + np.log(tf.data)) * self.idf[tf.indices]
        norms = np.sqrt(np.asarray(tf.multiply(tf).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        tf = sp.csr_matrix(sp.diags(1.0 / norms) @ tf, dtype=np.float32)
        # term-major for posting-list access at query time
        self._postings = sp.csr_matrix(tf.T, dtype=np.float32)

    def vector(self, text: str) -> sp.csr_matrix:
        """The L2-normalised TF-IDF row vector of ``text`` (n-grams unknown to the index are dropped)."""
        counts: Counter[int] = Counter()
        for word in text.split():
            for g in _word_ngrams(word, self.lo, self.hi):
                i = self.vocab.get(g)
                if i is not None:
                    counts[i] += 1
        if not counts:
            return sp.csr_matrix((1, max(1, len(self.vocab))), dtype=np.float32)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values = (1.0 + np.log(tf)) * self.idf[idx]
        values /= np.linalg.norm(values)
        return sp.csr_matrix((values, idx, np.asarray([0, len(idx)])), shape=(1, max(1, len(self.vocab))))

    def scores(self, text: str) -> np.ndarray:
        """Cosine of ``text`` against every document (0 when nothing is shared)."""
        q = self.vector(text)
        if q.nnz == 0 or self.n_docs == 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray((q @ self._postings).todense(), dtype=np.float32).ravel()
