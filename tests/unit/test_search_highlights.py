"""The query's words as search reads them, the tsquery built from them, and ts_headline's marks turned into
(offset, length) pairs over the unmarked text."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput
from core.store.search import MARK_START, MARK_STOP, highlight_offsets, query_terms, query_words


def marked(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for offset, length in spans:
        out += [text[last:offset], MARK_START, text[offset : offset + length], MARK_STOP]
        last = offset + length
    return "".join([*out, text[last:]])


def test_words_are_lowered_with_yo_as_ye_each_once_without_punctuation() -> None:
    assert query_words("  Ёлка, ёлка — ДОСТАВКА?! ") == ["елка", "доставка"]
    assert query_words("!!! ...") == []
    assert query_words("wi-fi snake_case") == ["wi", "fi", "snake", "case"]


@pytest.mark.parametrize("text", ["", " ", "a", " ж "])
def test_an_empty_or_one_letter_query_is_refused_in_russian(text: str) -> None:
    with pytest.raises(InvalidInput, match="хотя бы два символа"):
        query_words(text)


def test_a_long_query_is_refused() -> None:
    with pytest.raises(InvalidInput, match="сократите"):
        query_words("доставка " * 40)


def test_each_word_is_a_term_by_stem_or_prefix_and_stop_words_are_dropped() -> None:
    terms = query_terms(["доставки", "в", "велос", "ж1"], ["'доставк'", "", "'велос'", "'ж1'"])
    assert terms == ["('доставк' | 'доставки':*)", "('велос' | 'велос':*)", "('ж1')"]
    assert query_terms(["и", "на"], ["", ""]) == []


def test_a_quote_in_a_word_stays_inside_its_lexeme() -> None:
    # Words never hold quotes (they are letters and digits), but the quoting must hold on its own.
    assert query_terms(["d'or"], ["'d''or'"]) == ["('d''or' | 'd''or':*)"]


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        ("Доставка по Казани, доставки нет", [(0, 8), (20, 8)]),
        ("🚲 велосипед 🚲 Велосипеды", [(2, 9), (14, 10)]),  # code points, not UTF-16 units
        ("текст без совпадений", []),
        ("ёлка", [(0, 4)]),
    ],
)
def test_offsets_point_at_the_marked_words_in_code_points(text: str, spans: list[tuple[int, int]]) -> None:
    assert highlight_offsets(marked(text, spans)) == spans
    assert [text[o : o + n] for o, n in highlight_offsets(marked(text, spans))] == [text[o : o + n] for o, n in spans]


def test_an_unclosed_or_empty_mark_yields_no_span() -> None:
    assert highlight_offsets(f"a{MARK_START}{MARK_STOP}b{MARK_START}cd") == []
