"""The expression language of the Condition node: a small, safe, JSON-typed language over the graph state.

An admin writes ``intent in ["price", "order"] and item.price > 10000``; the scenario is validated with
:func:`parse` when it is saved and the compiler evaluates the parsed tree with :func:`evaluate` on every turn.
Nothing here calls ``eval``/``exec`` or ``getattr``: the tokenizer and the recursive-descent parser below
accept only this grammar, and the evaluator reads the state with ``dict`` look-ups, so no expression can reach
Python objects, whatever names it uses (names starting with ``__`` are rejected outright all the same, so an
attempt shows up as an error in the editor rather than as a silently false condition).

Grammar, loosest binding first::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := unary (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") unary)?
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | "true" | "false" | "null" | "[" (expr ("," expr)* ","?)? "]"
                | NAME "(" (expr ("," expr)*)? ")" | NAME ("." NAME)* | "(" expr ")"

Values are plain JSON: ``null``, booleans, numbers, strings, lists and objects. Semantics:

* **Names** are dotted paths into the state: ``item.price`` is ``state["item"]["price"]``. A missing key, or a
  step into something that is not an object, gives ``null`` — a condition about a listing the chat does not
  have is simply false, not an error.
* **Equality** ``==`` / ``!=`` compares JSON values; values of different types are unequal (``1 == "1"`` and
  ``1 == true`` are false, ``1 == 1.0`` is true), so ``intent != "price"`` is true when ``intent`` is null.
* **Ordering** ``<`` ``<=`` ``>`` ``>=`` compares two numbers or two strings. Any other pair (a number and a
  string, ``null``, booleans, lists) is *not an error*: the comparison is ``false``. So ``item.price > 10000`` is
  false for a chat without a listing — and so is ``item.price <= 10000``; write ``item.price == null`` to ask
  about a missing value.
* ``x in y``: element of a list (by ``==`` above), substring of a string, or key of an object; for any other
  ``y`` it is ``false``. ``x not in y`` is exactly ``not (x in y)``.
* ``and`` / ``or`` / ``not`` short-circuit and always give a boolean. Falsy values: ``null``, ``false``, ``0``,
  ``""``, ``[]``, ``{}``.
* Unary ``-`` negates a number; on anything else it gives ``null``.
* Functions: ``len(x)`` — length of a string, list or object, ``0`` for ``null``, ``null`` otherwise;
  ``lower(x)`` — a string in lower case, anything else unchanged; ``contains(x, y)`` — the same as ``y in x``.
* Comparisons do not chain (``1 < x < 5`` is a syntax error: write ``1 < x and x < 5``).

Limits: at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels of nesting (brackets, calls,
``not`` and ``-``), so a hostile expression cannot exhaust the stack. Errors are :class:`ExpressionError` with a
Russian message naming the position (counted from 1 in the message, from 0 in ``.position``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Expression",
    "ExpressionError",
    "evaluate",
    "is_true",
    "parse",
]

MAX_LENGTH = 500
MAX_DEPTH = 32


class ExpressionError(ValueError):
    """An expression that is not valid; ``message`` is Russian and already names the position."""

    def __init__(self, reason: str, position: int) -> None:
        self.reason = reason
        self.position = position  # 0-based offset into the text, for the editor to put the caret there
        self.message = f"{reason}, позиция {position + 1}"
        super().__init__(self.message)


# --------------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------------

_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ",", ".", "-")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A digit right after the number (or a letter) is caught below, so ``10abc`` is an error, not ``10`` ``abc``.
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number", "string", "name", "keyword", "op", "end"
    value: Any
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            value, end = _read_string(text, i)
            tokens.append(_Token("string", value, i))
            i = end
            continue
        if match := _NUMBER.match(text, i):
            end = match.end()
            if end < len(text) and (text[end].isalnum() or text[end] == "_" or text[end] == "."):
                raise ExpressionError("Неверное число", i)
            literal = match.group()
            tokens.append(_Token("number", float(literal) if "." in literal else int(literal), i))
            i = end
            continue
        if match := _NAME.match(text, i):
            word = match.group()
            if word.startswith("__"):
                # Not reachable through the evaluator anyway; rejecting it makes the intent visible.
                raise ExpressionError(f"Имя «{word}» недопустимо", i)
            tokens.append(_Token("keyword" if word in _KEYWORDS else "name", word, i))
            i = match.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(_Token("op", op, i))
                i += len(op)
                break
        else:
            if ch == "=":
                raise ExpressionError("Неожиданный символ «=»; для сравнения пишите «==»", i)
            if ch == "!":
                raise ExpressionError("Неожиданный символ «!»; отрицание пишется «not», неравенство — «!=»", i)
            if ch == "&" or ch == "|":
                raise ExpressionError(f"Неожиданный символ «{ch}»; пишите «and» / «or»", i)
            raise ExpressionError(f"Неожиданный символ «{ch}»", i)
    tokens.append(_Token("end", None, len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string starting at ``start``; return its value and the offset after the closing quote."""
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(chars), i + 1
        if ch == "\\":
            if i + 1 < len(text) and text[i + 1] in _ESCAPES:
                chars.append(_ESCAPES[text[i + 1]])
                i += 2
                continue
            raise ExpressionError("Неизвестная escape-последовательность в строке", i)
        chars.append(ch)
        i += 1
    raise ExpressionError("Строка не закрыта кавычкой", start)


# --------------------------------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Constant:
    value: Any


@dataclass(frozen=True, slots=True)
class ListOf:
    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Name:
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Expression


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expression


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # "==", "!=", "<", "<=", ">", ">=", "in", "not in"
    left: Expression
    right: Expression


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Expression, ...]


Expression = Constant | ListOf | Name | Call | Negate | Not | Compare | BoolOp

# Function name → number of arguments. The evaluator's match below is the other half of this table.
_FUNCTIONS = {"len": 1, "lower": 1, "contains": 2}
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


# --------------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------------


def parse(text: str) -> Expression:
    """Parse ``text`` into a tree for :func:`evaluate`; raise :class:`ExpressionError` on anything invalid."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"Условие длиннее {MAX_LENGTH} символов", MAX_LENGTH)
    if not text.strip():
        raise ExpressionError("Условие пустое", 0)
    return _Parser(_tokenize(text)).parse()


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._i = 0
        self._depth = 0

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def _tok(self) -> _Token:
        return self._tokens[self._i]

    def _at(self, kind: str, value: Any = None) -> bool:
        tok = self._tok
        return tok.kind == kind and (value is None or tok.value == value)

    def _advance(self) -> _Token:
        tok = self._tok
        self._i += 1
        return tok

    def _expect_op(self, op: str) -> _Token:
        if not self._at("op", op):
            raise ExpressionError(f"Ожидалось «{op}»", self._tok.position)
        return self._advance()

    def _enter(self, position: int) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ExpressionError(f"Слишком глубокая вложенность (больше {MAX_DEPTH})", position)

    def _leave(self) -> None:
        self._depth -= 1

    # -- grammar ---------------------------------------------------------------------------------

    def parse(self) -> Expression:
        node = self._or()
        if not self._at("end"):
            raise ExpressionError("Ожидался конец условия", self._tok.position)
        return node

    def _or(self) -> Expression:
        return self._bool_chain("or", self._and)

    def _and(self) -> Expression:
        return self._bool_chain("and", self._not)

    def _bool_chain(self, op: str, operand: Any) -> Expression:
        first = operand()
        operands = [first]
        while self._at("keyword", op):
            self._advance()
            operands.append(operand())
        if len(operands) == 1:
            return first
        return BoolOp(op, tuple(operands))

    def _not(self) -> Expression:
        if self._at("keyword", "not"):
            tok = self._advance()
            self._enter(tok.position)
            operand = self._not()
            self._leave()
            return Not(operand)
        return self._comparison()

    def _comparison(self) -> Expression:
        left = self._unary()
        op = self._comparison_op()
        if op is None:
            return left
        self._advance()
        if op == "not in":
            self._advance()
        right = self._unary()
        if self._comparison_op() is not None:
            raise ExpressionError("Сравнения нельзя объединять в цепочку, используйте «and»", self._tok.position)
        return Compare(op, left, right)

    def _comparison_op(self) -> str | None:
        tok = self._tok
        if tok.kind == "op" and tok.value in _COMPARISONS:
            return tok.value
        if tok.kind == "keyword" and tok.value == "in":
            return "in"
        if tok.kind == "keyword" and tok.value == "not":
            following = self._tokens[self._i + 1]
            if following.kind == "keyword" and following.value == "in":
                return "not in"
            raise ExpressionError("Ожидалось «not in»", tok.position)
        return None

    def _unary(self) -> Expression:
        if self._at("op", "-"):
            tok = self._advance()
            self._enter(tok.position)
            operand = self._unary()
            self._leave()
            return Negate(operand)
        return self._primary()

    def _primary(self) -> Expression:
        tok = self._tok
        if tok.kind in ("number", "string"):
            self._advance()
            return Constant(tok.value)
        if tok.kind == "keyword" and tok.value in ("true", "false", "null"):
            self._advance()
            return Constant({"true": True, "false": False, "null": None}[tok.value])
        if self._at("op", "("):
            self._advance()
            self._enter(tok.position)
            inner = self._or()
            self._leave()
            self._expect_op(")")
            return inner
        if self._at("op", "["):
            self._advance()
            self._enter(tok.position)
            items = self._items("]")
            self._leave()
            return ListOf(items)
        if tok.kind == "name":
            self._advance()
            if self._at("op", "("):
                return self._call(tok)
            path = [tok.value]
            while self._at("op", "."):
                self._advance()
                if not self._at("name"):
                    raise ExpressionError("Ожидалось имя поля после «.»", self._tok.position)
                path.append(self._advance().value)
            return Name(tuple(path))
        if tok.kind == "end":
            raise ExpressionError("Ожидалось значение, а условие закончилось", tok.position)
        raise ExpressionError(f"Ожидалось значение, а не «{tok.value}»", tok.position)

    def _call(self, name: _Token) -> Expression:
        arity = _FUNCTIONS.get(name.value)
        if arity is None:
            known = ", ".join(_FUNCTIONS)
            raise ExpressionError(f"Неизвестная функция «{name.value}» (есть: {known})", name.position)
        self._advance()  # "("
        self._enter(name.position)
        args = self._items(")")
        self._leave()
        if len(args) != arity:
            raise ExpressionError(
                f"Функция {name.value} принимает аргументов: {arity}, передано: {len(args)}", name.position
            )
        return Call(name.value, args)

    def _items(self, closing: str) -> tuple[Expression, ...]:
        """Comma-separated expressions up to ``closing`` (consumed); a trailing comma is allowed in lists."""
        items: list[Expression] = []
        while not self._at("op", closing):
            items.append(self._or())
            if self._at("op", ","):
                self._advance()
                if closing == ")" and self._at("op", closing):
                    raise ExpressionError("Ожидался аргумент после «,»", self._tok.position)
                continue
            if not self._at("op", closing):
                raise ExpressionError(f"Ожидалось «,» или «{closing}»", self._tok.position)
        self._advance()
        return tuple(items)


# --------------------------------------------------------------------------------------------------
# Evaluator
# --------------------------------------------------------------------------------------------------


def evaluate(node: Expression, state: dict[str, Any]) -> Any:
    """The JSON value of ``node`` over ``state`` (a plain-JSON dict). Never raises for any JSON ``state``."""
    match node:
        case Constant(value=value):
            return value
        case ListOf(items=items):
            return [evaluate(item, state) for item in items]
        case Name(path=path):
            value: Any = state
            for key in path:
                if not isinstance(value, dict):
                    return None
                value = value.get(key)
            return value
        case Negate(operand=operand):
            value = evaluate(operand, state)
            return -value if _is_number(value) else None
        case Not(operand=operand):
            return not _truthy(evaluate(operand, state))
        case BoolOp(op="and", operands=operands):
            return all(_truthy(evaluate(operand, state)) for operand in operands)
        case BoolOp(op="or", operands=operands):
            return any(_truthy(evaluate(operand, state)) for operand in operands)
        case Compare(op=op, left=left, right=right):
            return _compare(op, evaluate(left, state), evaluate(right, state))
        case Call(function="len", args=(arg,)):
            value = evaluate(arg, state)
            if value is None:
                return 0
            return len(value) if isinstance(value, str | list | dict) else None
        case Call(function="lower", args=(arg,)):
            value = evaluate(arg, state)
            return value.lower() if isinstance(value, str) else value
        case Call(function="contains", args=(container, member)):
            return _contains(evaluate(container, state), evaluate(member, state))
    raise AssertionError(f"unhandled expression node {node!r}")  # the parser builds no other shape


def is_true(node: Expression, state: dict[str, Any]) -> bool:
    """Whether the Condition node takes its ``true`` output: the truthiness of :func:`evaluate`."""
    return _truthy(evaluate(node, state))


def _truthy(value: Any) -> bool:
    # For the JSON types (the only ones a state or a literal can hold) this is Python's own truthiness.
    return bool(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b):
        return False  # bool is not a number here, unlike in Python: 1 == true is false
    if isinstance(a, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[key], b[key]) for key in a)
    return a == b


def _contains(container: Any, member: Any) -> bool:
    if isinstance(container, list):
        return any(_equal(member, element) for element in container)
    if isinstance(container, str):
        return isinstance(member, str) and member in container
    if isinstance(container, dict):
        return isinstance(member, str) and member in container
    return False


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op == "in":
        return _contains(right, left)
    if op == "not in":
        return not _contains(right, left)
    comparable = (_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str))
    if not comparable:
        return False  # documented: ordering across types is false, never an exception
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right
