"""Turn article passages and buyer questions into the terms the lexical indices compare.

An article becomes a bag of terms; a question becomes *slots*, one per meaningful word, each holding the
alternatives that word may stand for: its lemma, its transliteration («kugoo» → «кугоо»), the article's brand
spelling («кугу» → «kugoo») and alias concepts («нал» → «~наличные»). A slot counts once, with its best
alternative, so that expanding a word into five spellings does not make it five times as important — and so
that the share of a question the articles explain (the basis of a comparable score) stays meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from graphs import russian

from .aliases import AliasSet, BrandMatcher
from .terms import is_noun, is_stopword, lemma, lemma_variants

__all__ = ["BOUNDARY", "Analyzer", "QueryTerms", "Word"]

# «что-то», «где-нибудь»: the particle after an interrogative is filler. «то» alone is kept, because in a shop's
# articles it is nearly always «ТО» (maintenance).
_PARTICLES = frozenset({"то", "нибудь", "либо", "таки"})
_INTERROGATIVES = frozenset({"что", "кто", "где", "куда", "когда", "как", "какой", "чей", "почему", "зачем", "чем"})


@dataclass(frozen=True, slots=True)
class QueryTerms:
    """An analysed question: ``slots`` of alternative terms and the folded text for character n-grams."""

    text: str
    slots: tuple[tuple[str, ...], ...]
    char_text: str
    nouns: tuple[bool, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when nothing but filler is left («здравствуйте!», «а?»)."""
        return not self.slots


@dataclass(frozen=True, slots=True)
class Word:
    """One token of analysed text: surface form, canonical (Cyrillic, de-slanged) form, lemmas, filler flag."""

    surface: str
    canon: str
    alts: tuple[str, ...]
    stop: bool

    def variants(self) -> frozenset[str]:
        """What alias phrases may match at this word: the alternatives and all their pymorphy lemmas."""
        return _variants(self.surface, self.alts)


@lru_cache(maxsize=200_000)
def _variants(surface: str, alts: tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set(alts)
    for a in alts:
        out |= lemma_variants(a)
    out |= lemma_variants(surface)
    return frozenset(out)


@lru_cache(maxsize=200_000)
def _token_words(tok: str) -> tuple[Word, ...]:
    """The words one normalised token stands for (slang may expand «мб» into two), before context rules."""
    if russian.has_latin(tok):
        cyr = russian.transliterate_word(russian.SLANG.get(tok, tok))
        mapped = russian.SLANG.get(cyr, cyr).split()
        first = [tok] if tok == mapped[0] else [tok, lemma(mapped[0])]
        pairs = [(mapped[0], first)] + [(m, [lemma(m)]) for m in mapped[1:]]
    else:
        pairs = [(m, [lemma(m)]) for m in russian.SLANG.get(tok, tok).split()]
    return tuple(
        Word(tok, canon, tuple(dict.fromkeys(alts)), all(is_stopword(a) for a in alts)) for canon, alts in pairs
    )


# Placed between a passage's title, text and tags so that an alias phrase never spans two of them.
BOUNDARY = Word("|", "", ("|",), True)


def _words(text: str) -> list[Word]:
    """Analyse ``text`` into words; stop-words stay in (flagged) so that alias phrases see them."""
    out: list[Word] = []
    prev = ""
    for tok in russian.normalise(text).split():
        for word in _token_words(tok):
            primary = word.alts[-1]
            if not word.stop and primary in _PARTICLES and prev in _INTERROGATIVES:
                word = Word(word.surface, word.canon, word.alts, True)
            prev = primary
            out.append(word)
    return out


@lru_cache(maxsize=50_000)
def _words_cached(text: str) -> tuple[Word, ...]:
    return tuple(_words(text))


class Analyzer:
    """Shared analysis for documents and questions, parameterised by the shop's aliases and brands."""

    def __init__(self, aliases: AliasSet | None = None, brands: BrandMatcher | None = None) -> None:
        self.aliases = aliases
        self.brands = brands

    @staticmethod
    def words(text: str) -> list[Word]:
        """The alias-free analysis of ``text``.

        Index building computes this once per passage, derives the vocabulary (which the alias layer needs)
        from it, and then expands it with :meth:`document_terms`. Cached: titles, tags and category names
        repeat across a catalogue, and a re-index of an unchanged passage costs nothing.
        """
        return list(_words_cached(text))

    @staticmethod
    def char_text(words: list[Word]) -> str:
        """Folded canonical content words, for character n-grams (filler would only add noise n-grams)."""
        return russian.fold(" ".join(w.canon for w in words if not w.stop))

    def document_terms(self, words: list[Word]) -> list[str]:
        """Every alternative lemma of every content word plus the concept terms of alias phrases in it."""
        terms = [a for w in words if not w.stop for a in w.alts]
        if self.aliases is not None:
            terms.extend(c for _, c in self.aliases.find([w.variants() for w in words]))
        return terms

    def query(self, text: str) -> QueryTerms:
        """Analyse a buyer question into slots (see the module docstring)."""
        words = _words(text)
        slots: list[list[str]] = []
        for w in words:
            alts = list(w.alts)
            if self.brands is not None and not w.stop:
                extra = (
                    self.brands.cyrillic_for(w.surface)
                    if russian.has_latin(w.surface)
                    else self.brands.latin_for(w.surface)
                )
                alts.extend(e for e in extra if e not in alts)
            slots.append(alts)
        if self.aliases is not None:
            for i, concept in self.aliases.find([w.variants() for w in words]):
                # A phrase starting on a filler word («до скольки») attaches to its first content word.
                j = next((k for k in range(i, len(words)) if not words[k].stop), None)
                if j is not None and concept not in slots[j]:
                    slots[j].append(concept)
        content = tuple(tuple(dict.fromkeys(s)) for w, s in zip(words, slots, strict=True) if not w.stop)
        nouns = tuple(is_noun(w.canon) for w in words if not w.stop)
        return QueryTerms(text=text, slots=content, char_text=self.char_text(words), nouns=nouns)
