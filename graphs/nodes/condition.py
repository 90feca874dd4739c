"""Condition: branches on an expression over the state (:mod:`graphs.expressions`).

Execution (added with the compiler): the expression is parsed once when the graph is compiled; the router
returns ``"true"`` when :func:`graphs.expressions.is_true` holds for the state, else ``"false"``. It writes
nothing to the state.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import msgspec

from graphs import expressions
from graphs.nodes import ConfigIssue, Handle, NodeCall, NodeConfig, NodeType, Step


class ConditionConfig(NodeConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Ветвление по условию."""

    expression: Annotated[
        str,
        msgspec.Meta(
            title="Условие",
            description='Например: intent in ["price", "order"] and item.price > 10000. Доступны поля состояния '
            "(intent, intent_confidence, confidence, route, retrieval_score, handoff, item.…, buyer.…), "
            "сравнения, in / not in, and / or / not и функции len, lower, contains. Отсутствующее поле — null.",
            min_length=1,
            max_length=expressions.MAX_LENGTH,
            extra_json_schema={"x-widget": "expression"},
        ),
    ]


def check(config: ConditionConfig) -> list[ConfigIssue]:
    try:
        expressions.parse(config.expression)
    except expressions.ExpressionError as error:
        reason = error.message[:1].lower() + error.message[1:]
        return [ConfigIssue("invalid_expression", "expression", f"ошибка в условии: {reason}")]
    return []


# ── Execution ─────────────────────────────────────────────────────────────────────────────────────────────────
@lru_cache(maxsize=1024)
def _parsed(expression: str) -> expressions.Expression:
    # Parsed once per distinct expression: every turn of every chat evaluates the same few.
    return expressions.parse(expression)


async def run(state: dict[str, Any], config: ConditionConfig, call: NodeCall) -> Step:
    """Writes nothing; only chooses the branch."""
    return Step({}, branch="true" if expressions.is_true(_parsed(config.expression), state) else "false")


NODE = NodeType(
    type="condition",
    title="Условие",
    description="Направляет диалог по одной из двух веток в зависимости от условия.",
    category="flow",
    color="#64748b",
    config=ConditionConfig,
    outputs=(Handle("true", "Да"), Handle("false", "Нет")),
    check=check,
    run=run,
)
