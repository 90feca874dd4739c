"""Split knowledge-base articles into short passages the bot can quote.

Why passages and not whole articles: an article mixes several facts (price, weight, colours, sizes) and the
answer node should get the one or two sentences that answer the question, not the whole text. Why not single
sentences: a lone sentence often lacks its subject («Подходит на рост 165–180 см.»), so passages are 1–3
sentences, packed greedily up to ``max_chars``; the article title is prefixed to the text that is indexed and
embedded, so every passage knows what it is about.

Chunk positions are stable for unchanged text, which is what ``kb_chunks (article_id, position)`` keys on, so
vectors stored in pgvector can be joined back to these chunks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_article", "split_sentences"]

# A sentence ends at . ! ? … followed by space and a capital letter, digit or an opening quote/bracket.
_SENT_END_RE = re.compile(r"(?<=[.!?…])\s+(?=[«\"(А-ЯЁA-Z0-9])")
# Abbreviations after which a dot does not end a sentence («ул. Вишнёвая», «г. Казань», «т. д.»).
_ABBREVIATIONS = frozenset(
    [
        "ул",
        "г",
        "д",
        "пр",
        "просп",
        "пер",
        "ш",
        "стр",
        "корп",
        "кв",
        "т",
        "тыс",
        "руб",
        "коп",
        "мин",
        "сек",
        "ч",
        "см",
        "мм",
        "кг",
        "км",
        "им",
        "св",
        "ст",
        "рис",
        "напр",
        "др",
        "пр-т",
        "обл",
        "р-н",
    ]
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One indexed passage of an article.

    ``text`` is what is indexed and embedded (title + passage); ``passage`` is the bare sentences returned to
    the caller; ``position`` is the 0-based order inside the article (the ``kb_chunks.position`` column).
    """

    external_id: str
    position: int
    title: str
    passage: str

    @property
    def text(self) -> str:
        """Title-prefixed passage: the string that is embedded and stored in ``kb_chunks.text``."""
        return f"{self.title}. {self.passage}" if self.title else self.passage


def split_sentences(text: str) -> list[str]:
    """Split Russian prose into sentences, keeping abbreviations such as «ул.» inside their sentence."""
    text = re.sub(r"\s+", " ", text or "").strip()
    if not text:
        return []
    parts = _SENT_END_RE.split(text)
    sentences: list[str] = []
    for part in parts:
        if sentences:
            prev = sentences[-1]
            last_word = re.findall(r"([\w-]+)\.$", prev)
            if last_word and last_word[0].lower() in _ABBREVIATIONS:
                sentences[-1] = f"{prev} {part}"
                continue
        sentences.append(part)
    return sentences


def chunk_article(
    external_id: str,
    title: str,
    text: str,
    *,
    max_chars: int = 280,
    max_sentences: int = 3,
    min_chars: int = 80,
) -> list[Chunk]:
    """Pack an article's sentences greedily into passages of 1–``max_sentences`` sentences.

    A passage is closed when adding the next sentence would exceed ``max_chars`` or ``max_sentences``, but never
    while it is shorter than ``min_chars`` (a 30-character sentence on its own is too little context). An
    article with no text still yields one chunk holding its title, so every article is findable.
    """
    sentences = split_sentences(text)
    if not sentences:
        return [Chunk(external_id, 0, title.strip(), title.strip())]
    passages: list[list[str]] = []
    current: list[str] = []
    length = 0
    for sentence in sentences:
        too_long = length + len(sentence) + 1 > max_chars or len(current) >= max_sentences
        if current and too_long and length >= min_chars:
            passages.append(current)
            current, length = [], 0
        current.append(sentence)
        length += len(sentence) + 1
    if current:
        # A short tail is merged into the previous passage rather than left as a stub.
        if passages and length < min_chars and len(passages[-1]) < max_sentences + 1:
            passages[-1].extend(current)
        else:
            passages.append(current)
    return [Chunk(external_id, i, title.strip(), " ".join(p)) for i, p in enumerate(passages)]
