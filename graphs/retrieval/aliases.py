"""The alias layer: shop synonyms, place classes and brand spellings in either alphabet.

Earlier trials showed that the questions lexical retrieval misses are not hard semantically; they use a
different *word*: slang («велик», «нал»), abbreviations («сдэк», «мск», «акб»), a brand in Cyrillic («стелс»,
«кугу») for a Latin name in the article, or a city the articles never name («в самару отправите?» is answered
by «Авито Доставка в другие города»). Three mechanisms close that gap, all applied symmetrically to articles and
questions so that they meet on the same *concept term*:

* :class:`SynonymTable` — ``term → [synonyms]`` entries (the default list ``synonyms_ru.json`` plus the shop's
  own ``kb_synonyms`` rows). Every phrase of an entry emits the concept term ``~<term>``.
* places — ``class → [names]``: a city or country in a question also emits the class concept (``~другой
  город``). A name the shop's own articles mention is skipped: the articles say what they do there.
* :class:`BrandMatcher` — Latin words found in the articles (Stels, Kugoo, Shulz) rendered into the Cyrillic
  spellings buyers type («стелс», «кугу», «шульц»), matched exactly or with one typo.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from pathlib import Path

from graphs import russian

from .terms import is_stopword, phrase_lemmas

__all__ = [
    "DEFAULT_SYNONYMS_PATH",
    "AliasSet",
    "BrandMatcher",
    "SynonymTable",
    "cyrillic_renderings",
]

DEFAULT_SYNONYMS_PATH = Path(__file__).with_name("synonyms_ru.json")
CONCEPT_PREFIX = "~"


@dataclass(frozen=True)
class SynonymTable:
    """Shop-editable aliases: ``synonyms`` (term → equivalents) and ``places`` (class → place names).

    Keys and values are free text in any grammatical form; they are lemmatised when compiled. A shop entry
    with the same term as a default one *extends* it (use :meth:`without` to drop a default that misleads).
    """

    synonyms: Mapping[str, Sequence[str]] = field(default_factory=dict)
    places: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str = DEFAULT_SYNONYMS_PATH) -> SynonymTable:
        """Read a JSON file shaped like ``synonyms_ru.json``."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(synonyms=data.get("synonyms", {}), places=data.get("places", {}))

    @classmethod
    def default(cls) -> SynonymTable:
        """The bundled Russian list (slang, abbreviations, delivery/payment terms, cities and countries)."""
        return _default_table()

    def merged(self, shop_synonyms: Mapping[str, Sequence[str]]) -> SynonymTable:
        """This table plus the shop's own ``term → synonyms`` rows (the ``kb_synonyms`` table)."""
        out: dict[str, list[str]] = {k.lower(): list(v) for k, v in self.synonyms.items()}
        for term, syns in shop_synonyms.items():
            out.setdefault(term.lower(), [])
            out[term.lower()].extend(s for s in syns if s not in out[term.lower()])
        return SynonymTable(synonyms=out, places=self.places)

    def without(self, *terms: str) -> SynonymTable:
        """A copy without the given synonym terms (a shop whose «то» is not maintenance drops it)."""
        drop = {t.lower() for t in terms}
        return SynonymTable(
            synonyms={k: v for k, v in self.synonyms.items() if k.lower() not in drop}, places=self.places
        )

    def compile(self, kb_vocabulary: Iterable[str] = ()) -> AliasSet:
        """Lemmatise every phrase into a lookup of lemma sequences → concept terms.

        ``kb_vocabulary`` is the set of lemmas the articles contain; place names fully inside it are skipped
        (see the module docstring).
        """
        vocab = set(kb_vocabulary)

        def key_of(text: str) -> tuple[str, ...]:
            lem = phrase_lemmas(text)
            # A lone filler word is no alias; a multi-word phrase of them («до скольки») is specific enough.
            return lem if len(lem) > 1 or (lem and not is_stopword(lem[0])) else ()

        def in_kb(phrase: tuple[str, ...]) -> bool:
            return all(w in vocab for w in phrase if not is_stopword(w))

        phrases: dict[tuple[str, ...], set[str]] = defaultdict(set)
        groups: list[list[tuple[str, ...]]] = []
        for term, syns in self.synonyms.items():
            key = key_of(term)
            if not key:
                continue
            concept = CONCEPT_PREFIX + " ".join(key)
            members = [key] + [p for p in (key_of(s) for s in syns) if p]
            groups.append(members)
            for p in members:
                phrases[p].add(concept)
        for cls_name, names in self.places.items():
            key = key_of(cls_name)
            if not key:
                continue
            concept = CONCEPT_PREFIX + " ".join(key)
            phrases[key].add(concept)
            for name in names:
                lem = key_of(name)
                if not lem or in_kb(lem):
                    continue
                # «екб» is a synonym of «екатеринбург», so it is a place too.
                spellings = {lem}
                for members in groups:
                    if lem in members:
                        spellings.update(m for m in members if not in_kb(m))
                for s in spellings:
                    phrases[s].add(concept)
        return AliasSet({p: tuple(sorted(c)) for p, c in phrases.items()})


@lru_cache(maxsize=1)
def _default_table() -> SynonymTable:
    return SynonymTable.load(DEFAULT_SYNONYMS_PATH)


class AliasSet:
    """Compiled phrases: finds every alias phrase in a lemma sequence and reports its concept terms."""

    def __init__(self, phrases: Mapping[tuple[str, ...], tuple[str, ...]]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = defaultdict(list)
        for phrase, concepts in phrases.items():
            self._by_first[phrase[0]].append((phrase, concepts))
        for entries in self._by_first.values():
            entries.sort(key=lambda e: -len(e[0]))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_first.values())

    def find(self, positions: Sequence[Iterable[str]]) -> list[tuple[int, str]]:
        """``(start position, concept)`` for each alias phrase found; each position is a set of alternatives
        (lemma variants, transliterations), so a phrase matches if every word matches one of them."""
        found: list[tuple[int, str]] = []
        n = len(positions)
        for i, alts in enumerate(positions):
            for alt in alts:
                for phrase, concepts in self._by_first.get(alt, ()):
                    k = len(phrase)
                    if i + k > n:
                        continue
                    if all(phrase[j] in positions[i + j] for j in range(1, k)):
                        found.extend((i, c) for c in concepts)
        return found


# --------------------------------------------------------------------------------------------------
# Brand names across alphabets
# --------------------------------------------------------------------------------------------------

# Letter groups of Latin brand names and how Russian buyers spell them. The first option is the usual one;
# later options are alternatives (English vs German reading, silent letters).
_MULTI: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sch", ("ш",)), ("tch", ("ч",)), ("ch", ("ч", "х", "к")), ("sh", ("ш",)), ("zh", ("ж",)),
    ("kh", ("х",)), ("ph", ("ф",)), ("th", ("т", "з")), ("ck", ("к",)), ("qu", ("кв",)), ("oo", ("у",)),
    ("ee", ("и",)), ("ea", ("и", "еа")), ("ou", ("ау", "у")), ("ai", ("ай", "ей")), ("ay", ("ей", "ай")),
    ("ey", ("ей", "и")), ("oy", ("ой",)), ("ie", ("и", "ай")), ("ts", ("ц",)), ("tz", ("ц",)), ("gh", ("г",)),
    ("wh", ("в",)), ("x", ("кс",)), ("j", ("дж", "й")), ("w", ("в", "у")), ("q", ("к",)),
)  # fmt: skip
_SINGLE: dict[str, tuple[str, ...]] = {
    "a": ("а", "е", "ей"), "b": ("б",), "d": ("д",), "e": ("е",), "f": ("ф",), "h": ("х", ""), "i": ("и", "ай"),
    "k": ("к",), "l": ("л",), "m": ("м",), "n": ("н",), "o": ("о",), "p": ("п",), "r": ("р",), "s": ("с", "з"),
    "t": ("т",), "u": ("у", "а", "ю"), "v": ("в",), "z": ("з", "ц"),
}  # fmt: skip
_LAT_VOWELS = frozenset("aeiouy")


def _units(word: str) -> list[tuple[str, ...]]:
    """Split a Latin word into letter groups, each with its Cyrillic options."""
    units: list[tuple[str, ...]] = []
    i, n = 0, len(word)
    while i < n:
        for lat, cyr in _MULTI:
            if word.startswith(lat, i):
                units.append(cyr)
                i += len(lat)
                break
        else:
            ch = word[i]
            nxt = word[i + 1] if i + 1 < n else ""
            if ch == "c":
                units.append(("с",) if nxt in ("e", "i", "y") else ("к",))
            elif ch == "g":
                units.append(("г", "дж") if nxt in ("e", "i", "y") else ("г",))
            elif ch == "y":
                units.append(("й",) if i == 0 and nxt in _LAT_VOWELS else ("и", "ай"))
            elif ch == "e" and i == n - 1 and n > 3 and word[i - 1] not in _LAT_VOWELS:
                units.append(("", "е"))  # silent final «e»: nine → найн, cube → куб
            elif ch.isalpha():
                units.append(_SINGLE.get(ch, (ch,)))
            else:
                units.append((ch,))
            i += 1
    return units


@lru_cache(maxsize=20_000)
def cyrillic_renderings(word: str, max_changes: int = 2) -> frozenset[str]:
    """Folded Cyrillic spellings of a Latin word, each using at most ``max_changes`` non-default options.

    Bounding the number of deviations keeps long words from exploding combinatorially while still covering
    «giant» → «джайант» (two deviations) and «shulz» → «шулц» (one).
    """
    units = _units(word.lower())
    default = [u[0] for u in units]
    ambiguous = [i for i, u in enumerate(units) if len(u) > 1]
    out = {russian.fold("".join(default))}
    for k in range(1, max_changes + 1):
        for idxs in combinations(ambiguous, k):
            options: list[list[str]] = [[]]
            for i in idxs:
                options = [[*o, alt] for o in options for alt in units[i][1:]]
            for opt in options:
                parts = list(default)
                for i, alt in zip(idxs, opt, strict=True):
                    parts[i] = alt
                out.add(russian.fold("".join(parts)))
    return frozenset(s for s in out if s)


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class BrandMatcher:
    """Match brand names between the Latin spelling in articles and the Cyrillic one in questions.

    Built from the shop's own vocabulary, so it knows exactly the brands the shop sells and nothing else:
    «стелс» finds «stels» only because an article says Stels. Fuzzy matching (one edit, SymSpell-style delete
    index) is used only for words of 5+ letters that are not dictionary Russian, where a typo is likely and a
    false hit is not.
    """

    def __init__(self, latin_words: Iterable[str], cyrillic_words: Mapping[str, str]) -> None:
        """``latin_words``: Latin tokens of the articles; ``cyrillic_words``: surface token → indexed lemma."""
        self._exact: dict[str, set[str]] = defaultdict(set)
        self._fuzzy: dict[str, set[str]] = defaultdict(set)
        for w in {w.lower() for w in latin_words}:
            if len(w) < 3 or not w.isalpha() or w in russian.SLANG:
                continue
            for r in cyrillic_renderings(w):
                self._exact[r].add(w)
                if len(r) >= 5:
                    for d in _deletes(r):
                        self._fuzzy[d].add(w)
                    self._fuzzy[r].add(w)
        self._cyrillic: dict[str, str] = {}
        for surface, lem in cyrillic_words.items():
            if russian.has_cyrillic(surface) and len(surface) >= 3:
                self._cyrillic.setdefault(russian.fold(surface), lem)

    def latin_for(self, token: str) -> tuple[str, ...]:
        """Latin article words a Cyrillic question token may stand for («кугу» → ``("kugoo",)``)."""
        if len(token) < 3 or not russian.has_cyrillic(token):
            return ()
        key = russian.fold(token)
        hits = set(self._exact.get(key, ()))
        if not hits and len(key) >= 5 and not russian.is_known_word(token):
            hits.update(self._fuzzy.get(key, ()))
            for d in _deletes(key):
                hits.update(self._fuzzy.get(d, ()))
        return tuple(sorted(hits))

    def cyrillic_for(self, token: str) -> tuple[str, ...]:
        """Cyrillic article lemmas a Latin question token may stand for («kugoo» → ``("кугу",)``)."""
        if len(token) < 3 or not token.isalpha() or russian.has_cyrillic(token):
            return ()
        hits = {self._cyrillic[r] for r in cyrillic_renderings(token) if r in self._cyrillic}
        return tuple(sorted(hits))
