"""The term vocabulary retrieval works in: lemmas, stop-words and folded character text.

Both documents and questions go through :mod:`graphs.russian` (normalisation, Latin-typed Russian →
Cyrillic, chat slang) and then pymorphy3 lemmas, so «доставкой», «доставку» and «dostavka» all become
«доставка». Stop-words are dropped because colloquial questions are mostly filler («а подскажите
пожалуйста, у вас есть …») and filler must neither match documents nor count when we judge how much of a
question the knowledge base explains.
"""

from __future__ import annotations

from functools import lru_cache

from graphs import russian

__all__ = [
    "STOPWORDS",
    "char_text",
    "is_noun",
    "is_stopword",
    "lemma",
    "lemma_variants",
    "phrase_lemmas",
]

# Lemmas that carry no topic in a buyer's question. Deliberately excludes words that do carry one here:
# «без» (без пальцев, без переплаты), «после» (ТО после покупки), «через» (через Авито), «другой» (другой
# город), «день» (14 дней, день рождения), numbers, and «то», which here is
# usually «ТО» (maintenance); the particle in «что-то» is dropped by the analyser instead.
STOPWORDS: frozenset[str] = frozenset(
    """
    а и или но да нет не ни же ли ль бы б вот ведь уж ну это этот эта эти тот та те там тут здесь так
    как какой какая какое какие каков где куда откуда когда зачем почему что чтобы чтоб кто чей
    я ты вы он она оно они мы мой твой ваш наш свой его ее их мне меня мной нам нас вам вас ему ей им
    себя сам самый весь все всё всего всех
    в во на с со к ко у о об обо от по из за до при про для над под перед меж между
    быть есть был была были будет будут бывать мочь можно нельзя надо нужно хотеть хотеться
    ещё еще уже тоже также даже только просто очень вообще сейчас теперь тогда потом вдруг опять
    сколько примерно приблизительно точно какой-то
    привет здравствуйте здравствовать добрый доброе пожалуйста спасибо благодарить ок
    ладно хорошо понятно подсказать сказать скажите подскажите интересовать интересно вопрос ответ
    типа короче кстати блин нибудь либо
    """.split()  # noqa: SIM905 - a word list reads better than 200 quoted strings
)


def is_stopword(lemma_: str) -> bool:
    """True for filler lemmas (see :data:`STOPWORDS`); single Cyrillic letters count as filler too."""
    return lemma_ in STOPWORDS or (len(lemma_) == 1 and not lemma_.isdigit())


@lru_cache(maxsize=200_000)
def lemma(token: str) -> str:
    """pymorphy3 normal form of one canonical token (cached: the same few thousand words recur)."""
    return russian.lemmatise(token)


@lru_cache(maxsize=200_000)
def lemma_variants(token: str) -> frozenset[str]:
    """Every normal form pymorphy3 considers for ``token`` plus its main lemma and the token itself.

    Alias phrases are matched against these, not only the most probable lemma, because the most probable
    parse of a rare place or brand in an oblique case is often wrong («самару» → «самар»), while one of the
    other parses is the right one.
    """
    out = {token, lemma(token)}
    if russian.has_cyrillic(token) and not token.isdigit():
        out.update(str(p.normal_form).replace("ё", "е") for p in russian.morph().parse(token)[:4])
    return frozenset(out)


@lru_cache(maxsize=200_000)
def is_noun(token: str) -> bool:
    """True for a dictionary Russian noun (most probable parse); unknown words, Latin and numbers are not."""
    if not russian.is_known_word(token):
        return False
    return russian.morph().parse(token)[0].tag.POS == "NOUN"


def phrase_lemmas(text: str) -> tuple[str, ...]:
    """All lemmas of a phrase, stop-words included («до скольки» must not shrink to «сколько»)."""
    return tuple(lemma(tok) for tok in russian.tokenise(text))


def char_text(text: str) -> str:
    """Folded canonical text for character n-grams: robust to typos, soft signs and «й/и» confusion."""
    return russian.fold(" ".join(russian.tokenise(text)))
