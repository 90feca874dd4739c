"""The Condition node's expression language: grammar, JSON semantics, errors with positions, and safety."""

from __future__ import annotations

from typing import Any

import pytest

from graphs.expressions import MAX_DEPTH, MAX_LENGTH, ExpressionError, evaluate, is_true, parse

STATE: dict[str, Any] = {
    "intent": "price",
    "intent_confidence": 0.82,
    "item": {"id": 42, "title": "Велосипед Stels", "price": 15000, "tags": ["спорт", "б/у"]},
    "buyer": {"name": "Анна"},
    "history": [{"role": "buyer", "text": "Здравствуйте"}],
    "handoff": False,
    "documents": [],
}


def ev(text: str, state: dict[str, Any] = STATE) -> Any:
    return evaluate(parse(text), state)


def error(text: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    return caught.value


def test_design_example() -> None:
    text = 'intent in ["price","order"] and item.price > 10000'
    assert ev(text) is True
    assert ev(text, {**STATE, "intent": "delivery"}) is False
    assert ev(text, {**STATE, "item": {"price": 9000}}) is False
    assert ev(text, {"intent": "order"}) is False  # no listing in this chat: not an error


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("3.5", 3.5),
        ("-7", -7),
        ("- -7", 7),
        ('"двойные"', "двойные"),
        ("'одинарные'", "одинарные"),
        (r"'it\'s'", "it's"),
        (r'"a\"b\\c\n"', 'a"b\\c\n'),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[]", []),
        ('[1, "два", [3], null,]', [1, "два", [3], None]),
    ],
)
def test_literals(text: str, value: Any) -> None:
    assert ev(text) == value


def test_names_are_dotted_paths_and_missing_ones_are_null() -> None:
    assert ev("intent") == "price"
    assert ev("item.price") == 15000
    assert ev("buyer.name") == "Анна"
    assert ev("item.tags") == ["спорт", "б/у"]
    assert ev("nothing") is None
    assert ev("item.nothing.deeper") is None
    assert ev("intent.length") is None  # a step into a string is a missing field, not an attribute
    assert ev("buyer.name == null", {}) is True


def test_comparisons() -> None:
    assert ev("item.price >= 15000") is True
    assert ev("item.price > 15000") is False
    assert ev("item.price < 15000.5") is True
    assert ev("item.price <= -1") is False
    assert ev('intent == "price"') is True
    assert ev('intent != "price"') is False
    assert ev('"abc" < "abd"') is True
    assert ev("1 == 1.0") is True
    assert ev("[1, [2]] == [1, [2.0]]") is True


def test_in_and_not_in() -> None:
    assert ev('"спорт" in item.tags') is True
    assert ev('"новый" not in item.tags') is True
    assert ev('"Stels" in item.title') is True  # substring
    assert ev('"price" in item') is True  # key of an object
    assert ev('"x" in null') is False
    assert ev('"x" not in null') is True  # exactly `not ("x" in null)`
    assert ev("1 in [true]") is False


def test_type_mismatch_is_false_not_an_error() -> None:
    assert ev('item.price > "100"') is False
    assert ev("nothing > 5") is False
    assert ev("nothing <= 5") is False
    assert ev("true > false") is False
    assert ev("[1] < [2]") is False
    assert ev('1 == "1"') is False
    assert ev("1 == true") is False  # a boolean is not a number here
    assert ev("0 == false") is False
    assert ev('1 != "1"') is True
    assert ev('-"abc"') is None
    assert ev("1 in 5") is False


def test_functions() -> None:
    assert ev("len(history)") == 1
    assert ev("len(item.title)") == len("Велосипед Stels")
    assert ev("len(item)") == 4
    assert ev("len(missing)") == 0
    assert ev("len(5)") is None
    assert ev('lower("ПрИвЕт")') == "привет"
    assert ev("lower(item.price)") == 15000
    assert ev('contains(lower(item.title), "stels")') is True
    assert ev('contains(item.tags, "спорт")') is True
    assert ev('contains(5, "x")') is False


def test_precedence() -> None:
    # not > and > or, comparisons bind tighter than all three, as in Python.
    assert ev("true or false and false") is True
    assert ev("(true or false) and false") is False
    assert ev("not false and false") is False
    assert ev("not (false and false)") is True
    assert ev('not intent == "delivery"') is True
    assert ev("- 2 < -1") is True
    assert ev('intent == "price" or intent == "order" and false') is True


class _Tripwire(dict[str, Any]):
    """A state that fails the test when the evaluator reads ``boom``."""

    def get(self, key: str, default: Any = None) -> Any:
        if key == "boom":
            raise AssertionError("the right-hand side was evaluated")
        return super().get(key, default)


def test_boolean_operators_short_circuit() -> None:
    state = _Tripwire(yes=True, no=False)
    assert ev("no and boom", state) is False
    assert ev("yes or boom", state) is True
    assert ev("no and boom or yes", state) is True
    with pytest.raises(AssertionError):
        ev("yes and boom", state)


def test_boolean_operators_return_booleans() -> None:
    assert ev('1 and "x"') is True
    assert ev("0 or []") is False
    assert ev("not []") is True
    assert ev("not missing") is True
    assert ev('not "x"') is False


def test_is_true_uses_json_truthiness() -> None:
    assert is_true(parse("item.tags"), STATE) is True
    assert is_true(parse("documents"), STATE) is False
    assert is_true(parse("handoff"), STATE) is False
    assert is_true(parse("buyer"), STATE) is True
    assert is_true(parse('""'), STATE) is False


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("intent == ", 10, "Ожидалось значение"),
        ('intent in ["a", "b"', 19, "Ожидалось «,» или «]»"),
        ("(intent", 7, "Ожидалось «)»"),
        ("intent = 'price'", 7, "«==»"),
        ("intent == 'price", 10, "Строка не закрыта"),
        ("a && b", 2, "«and»"),
        ("!a", 0, "«not»"),
        ("a @ b", 2, "Неожиданный символ «@»"),
        ("10abc", 0, "Неверное число"),
        ("1.", 0, "Неверное число"),
        ("intent == 'a' 'b'", 14, "Ожидался конец условия"),
        ("1 < x < 5", 6, "цепочку"),
        ("a not b", 2, "«not in»"),
        ("item.", 5, "Ожидалось имя поля"),
        ("item.1", 5, "Ожидалось имя поля"),
        ("upper(intent)", 0, "Неизвестная функция «upper»"),
        ("len(a, b)", 0, "Функция len принимает аргументов: 1, передано: 2"),
        ("contains(a)", 0, "передано: 1"),
        ("len(a,)", 6, "Ожидался аргумент"),
        ("   ", 0, "Условие пустое"),
        (r"'\q'", 1, "escape"),
    ],
)
def test_errors_name_the_position(text: str, position: int, fragment: str) -> None:
    err = error(text)
    assert err.position == position
    assert fragment in err.message
    assert err.message.endswith(f"позиция {position + 1}")  # counted from 1 for people
    assert str(err) == err.message


@pytest.mark.parametrize(
    "text",
    [
        "__class__",
        "().__class__",
        "item.__class__",
        "intent.__class__.__mro__",
        "__import__('os')",
        "len.__globals__",
        "item.__dict__",
    ],
)
def test_no_way_into_python_internals(text: str) -> None:
    with pytest.raises(ExpressionError):
        parse(text)


def test_python_names_are_just_missing_state_keys() -> None:
    # Even a state that happens to be an object with attributes is only ever read with dict look-ups.
    assert ev("keys", {"a": 1}) is None
    assert ev("items.count", {"items": [1, 2]}) is None
    assert ev("real", {}) is None
    assert ev("eval", {}) is None


def test_single_underscore_names_are_ordinary_keys() -> None:
    assert ev("_private", {"_private": 1}) == 1


def test_length_limit() -> None:
    text = "intent == " + '"' + "x" * (MAX_LENGTH - 12) + '"'
    assert len(text) == MAX_LENGTH
    parse(text)
    err = error(text + " ")
    assert "500" in err.message
    assert err.position == MAX_LENGTH


@pytest.mark.parametrize(
    "build",
    [
        lambda n: "(" * n + "1" + ")" * n,
        lambda n: "[" * n + "]" * n,
        lambda n: "not " * n + "true",
        lambda n: "-" * n + "1",
        lambda n: "len(" * n + "1" + ")" * n,
    ],
)
def test_depth_limit(build: Any) -> None:
    parse(build(MAX_DEPTH))
    err = error(build(MAX_DEPTH + 1))
    assert f"больше {MAX_DEPTH}" in err.message


def test_deep_nesting_inside_the_length_limit_fails_cleanly() -> None:
    # 250 levels would recurse deeply in a naive parser; here it stops at MAX_DEPTH with a proper error.
    err = error("(" * 250 + ")" * 250)
    assert isinstance(err, ExpressionError)


def test_long_flat_chains_are_fine() -> None:
    # `and`/`or` chains are loops in the parser, not nesting: they do not count towards MAX_DEPTH.
    text = " or ".join(f"x=={n}" for n in range(MAX_DEPTH + 20))
    assert len(text) <= MAX_LENGTH - 25
    assert ev(text) is False
    assert ev(text + ' or intent == "price"') is True
