"""Behaviour of the offline intent classifier and the Russian text helpers it is built on.

The default model is fitted once per test session (``from_default`` caches it); tests that need a model with
an admin's custom intents fit their own, on the shipped examples plus a handful of new ones.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import Counter

import pytest

from graphs import russian
from graphs.offline.intent_classifier import DEFAULT_EXAMPLES_PATH, IntentClassifier, load_examples

DEFAULT_INTENTS = {
    "greeting",
    "availability",
    "price",
    "delivery",
    "payment",
    "returns",
    "product_info",
    "pickup",
    "order",
    "human",
    "complaint",
    "thanks",
    "other",
}


@pytest.fixture(scope="module")
def clf() -> IntentClassifier:
    return IntentClassifier.from_default()


# ------------------------------------------------------------------------------------------ russian helpers


def test_normalise_case_yo_punctuation_and_stretching() -> None:
    assert russian.normalise("  Ещё   АКТУАЛЬНО?!!  ") == "еще актуально"
    assert russian.normalise("Приииивет!!! 👋") == "привет"
    assert russian.normalise("велик б/у, 1,5 года") == "велик бу 1.5 года"
    assert russian.normalise("смотри https://example.com/x?y=1 тут") == "смотри тут"
    assert russian.normalise("5000р") == "5000 р"
    assert russian.normalise("") == ""


def test_normalise_fixes_latin_homoglyphs_inside_cyrillic_words() -> None:
    # «cкидкa» typed with a Latin «c» and «a».
    assert russian.normalise("cкидкa") == "скидка"


@pytest.mark.parametrize(
    ("latin", "cyrillic"),
    [
        ("dostavka", "доставка"),
        ("skolko", "сколько"),  # the dropped soft sign is restored from the dictionary
        ("skol'ko", "сколько"),
        ("shchetka", "щетка"),
        ("zhurnal", "журнал"),
        ("khorosho", "хорошо"),
        ("yabloko", "яблоко"),
        ("yubka", "юбка"),
        ("tsena", "цена"),
        ("prodaetsya", "продается"),
        ("kakoy", "какой"),
        ("novye", "новые"),
        ("ghbdtn", "привет"),  # wrong keyboard layout
    ],
)
def test_transliterate_word(latin: str, cyrillic: str) -> None:
    assert russian.transliterate_word(latin) == cyrillic


@pytest.mark.parametrize("word", ["iphone", "samsung", "nike", "rtx3060", "usb", "avito"])
def test_transliterate_keeps_brands_and_model_numbers(word: str) -> None:
    assert russian.transliterate_word(word) == word


def test_tokenise_translit_layout_and_slang() -> None:
    assert russian.tokenise("Dostavka est?") == ["доставка", "ест"]
    assert russian.tokenise("cgfcb,j") == ["спасибо"]  # «спасибо» on the English layout: «,» is «б»
    assert russian.tokenise("велик бу, нал?") == ["велосипед", "бу", "наличные"]
    assert russian.tokenise("скока?") == ["сколько"]


def test_lemmas_and_single_analyser() -> None:
    assert russian.lemmatise("доставкой") == "доставка"
    assert russian.lemmas("Продаёте велики?") == ["продавать", "велосипед"]
    assert russian.morph() is russian.morph()


def test_fold_merges_translit_spelling_variants() -> None:
    assert russian.fold("сколько") == russian.fold("сколко")
    assert russian.fold("касса") == russian.fold("каса")
    assert russian.fold("какой") == russian.fold("какои")


def test_emoji_only() -> None:
    assert russian.is_emoji_only("👍👍")
    assert russian.is_emoji_only("?")
    assert not russian.is_emoji_only("ок 👍")
    assert not russian.is_emoji_only("")


# ------------------------------------------------------------------------------------------ training data


def test_shipped_examples_cover_every_default_intent() -> None:
    examples = load_examples()
    counts = Counter(intent for _, intent in examples)
    assert set(counts) == DEFAULT_INTENTS
    assert min(counts.values()) >= 40, counts
    # valid JSON lines with exactly the two fields, no duplicate (text, intent) pairs
    with open(DEFAULT_EXAMPLES_PATH, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    assert all(set(r) == {"text", "intent"} for r in rows)
    pairs = [(r["text"].strip().lower(), r["intent"]) for r in rows]
    assert len(pairs) == len(set(pairs))


# ------------------------------------------------------------------------------------------ classifier


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("актуально?", "availability"),
        ("за сколько отдадите?", "price"),
        ("можно оплатить наличкой?", "payment"),
        ("какая гарантия?", "returns"),
        ("скиньте еще фото", "product_info"),
        ("где можно посмотреть?", "pickup"),
        ("беру, как оформить?", "order"),
        ("спасибо, всё понятно", "thanks"),
        ("Здравствуйте", "greeting"),
    ],
)
def test_clear_messages(clf: IntentClassifier, text: str, intent: str) -> None:
    assert clf.classify(text)[0] == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("dostavka est?", "delivery"),
        ("skolko stoit?", "price"),
        ("gde nahodites?", "pickup"),
        ("oplata kartoj?", "payment"),
        ("ghbdtn", "greeting"),
    ],
)
def test_latin_typed_russian(clf: IntentClassifier, text: str, intent: str) -> None:
    assert clf.classify(text)[0] == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Здравствуйте, актуально?", "availability"),
        ("Добрый день! Доставка в Казань есть?", "delivery"),
        ("привет, скока?", "price"),
        ("Здравствуйте, Анна, можно наличными?", "payment"),
        ("privet, aktualno?", "availability"),
        # a greeting followed only by filler or a name is still a greeting
        ("Здравствуйте, подскажите пожалуйста", "greeting"),
        ("Добрый день, Сергей!", "greeting"),
    ],
)
def test_greeting_mixed_with_question_is_labelled_by_the_question(
    clf: IntentClassifier, text: str, intent: str
) -> None:
    assert clf.classify(text)[0] == intent


@pytest.mark.parametrize("text", ["", "   ", "?", "???", "👍", "🙂🙂", "...", "!!!"])
def test_contentless_messages_are_other_with_certainty(clf: IntentClassifier, text: str) -> None:
    assert clf.classify(text) == ("other", 1.0)


@pytest.mark.parametrize(
    "text",
    [
        "оператор",
        "позовите менеджера",
        "хочу поговорить с живым человеком",
        "vy bot?",
        "OPERATOR pozhaluysta",
    ],
)
def test_requests_for_a_person_are_human(clf: IntentClassifier, text: str) -> None:
    label, p = clf.classify(text)
    assert label == "human"
    assert p > 0.6


def test_human_rule_does_not_hijack_a_complaint_about_a_manager(clf: IntentClassifier) -> None:
    assert clf.classify("ваш менеджер мне нагрубил, я буду жаловаться")[0] == "complaint"


def test_links_and_spam_are_other(clf: IntentClassifier) -> None:
    assert clf.classify("перейдите по ссылке https://bit.ly/abc и получите приз")[0] == "other"
    assert clf.classify("заработок от 3000 в день, пиши в телеграм")[0] == "other"


def test_predict_returns_every_intent_sorted_and_normalised(clf: IntentClassifier) -> None:
    for text in ["сколько стоит?", "ааа", "", "Здравствуйте, доставка есть?", "оператор"]:
        pred = clf.predict(text)
        assert {label for label, _ in pred} == DEFAULT_INTENTS
        probs = [p for _, p in pred]
        assert probs == sorted(probs, reverse=True)
        assert all(0.0 <= p <= 1.0 for p in probs)
        assert math.isclose(sum(probs), 1.0, abs_tol=1e-9)
        assert clf.classify(text) == pred[0]


def test_deterministic_across_calls_and_fits() -> None:
    examples = load_examples()
    a = IntentClassifier().fit(examples)
    b = IntentClassifier().fit(examples)
    for text in ["велик ещё продаёте?", "скинете пару тысяч?", "хм", "Здравствуйте!"]:
        assert a.predict(text) == a.predict(text) == b.predict(text)


def test_from_default_is_cached(clf: IntentClassifier) -> None:
    assert IntentClassifier.from_default() is clf


def test_admin_custom_intents_with_a_few_examples_are_predicted() -> None:
    custom = [
        ("оптом продаете?", "wholesale"),
        ("есть оптовая цена?", "wholesale"),
        ("нужно 100 штук для магазина, какие условия опта?", "wholesale"),
        ("работаете с оптовиками?", "wholesale"),
        ("хочу закупить партию", "wholesale"),
        ("у вас есть подарочная упаковка?", "gift_wrap"),
        ("можно упаковать как подарок?", "gift_wrap"),
        ("завернете в подарочную бумагу?", "gift_wrap"),
        ("подарочную коробку добавите?", "gift_wrap"),
    ]
    clf = IntentClassifier().fit(load_examples() + custom)
    assert set(clf.labels) == DEFAULT_INTENTS | {"wholesale", "gift_wrap"}
    assert clf.classify("оптовые цены есть?")[0] == "wholesale"
    assert clf.classify("а оптом можно взять?")[0] == "wholesale"
    assert clf.classify("упакуете в подарочную упаковку?")[0] == "gift_wrap"
    # the defaults still work next to the new intents
    assert clf.classify("доставка есть?")[0] == "delivery"
    assert clf.classify("Здравствуйте, актуально?")[0] == "availability"


def test_fully_custom_intent_set_without_other_or_human() -> None:
    clf = IntentClassifier().fit(
        [
            ("да", "yes"),
            ("ага, конечно", "yes"),
            ("да, согласен", "yes"),
            ("нет", "no"),
            ("не надо", "no"),
            ("нет, спасибо", "no"),
        ]
    )
    assert clf.labels == ["no", "yes"]
    assert clf.classify("да конечно")[0] == "yes"
    assert clf.classify("нет не нужно")[0] == "no"
    # no «other» intent to fall back on: contentless input is an even "don't know"
    assert clf.predict("👍") == [("no", 0.5), ("yes", 0.5)]
    # rules about operators must not invent an intent that does not exist
    assert {label for label, _ in clf.predict("позовите оператора")} == {"no", "yes"}


def test_fit_needs_two_intents_and_predict_needs_fit() -> None:
    with pytest.raises(ValueError):
        IntentClassifier().fit([("привет", "greeting"), ("здравствуйте", "greeting")])
    with pytest.raises(RuntimeError):
        IntentClassifier().predict("привет")


def test_latency_under_5ms(clf: IntentClassifier) -> None:
    texts = [text for text, _ in load_examples()[::7]]
    for text in texts:  # warm the word caches, as a running worker would have them
        clf.classify(text)
    timings = []
    for text in texts:
        t0 = time.perf_counter()
        clf.classify(text)
        timings.append((time.perf_counter() - t0) * 1e3)
    assert statistics.median(timings) < 5.0
