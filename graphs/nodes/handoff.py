"""Handoff: gives the chat to a person. Terminal — the turn ends here.

Execution (added with the compiler): sets ``handoff`` to true, ``reply`` to ``message`` (the chat session sends it
to the buyer, then switches the chat to operator mode and notifies the operators) and ``operator_group``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from graphs.nodes import NodeCall, NodeConfig, NodeType, Step


class HandoffConfig(NodeConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Передача чата менеджеру."""

    message: Annotated[
        str,
        msgspec.Meta(
            title="Сообщение покупателю",
            description="Что бот пишет покупателю, передавая чат менеджеру. Пусто — ничего не писать.",
            max_length=1000,
            extra_json_schema={"x-widget": "textarea"},
        ),
    ] = "Передаю ваш вопрос менеджеру, он ответит в ближайшее время."
    operator_group: Annotated[
        Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None,
        msgspec.Meta(
            title="Группа операторов",
            description="Кому из операторов показать чат. Не задано — всем операторам аккаунта.",
        ),
    ] = None


# ── Execution ─────────────────────────────────────────────────────────────────────────────────────────────────
async def run(state: dict[str, Any], config: HandoffConfig, call: NodeCall) -> Step:
    return Step({"handoff": True, "reply": config.message, "operator_group": config.operator_group or None})


NODE = NodeType(
    type="handoff",
    title="Передать менеджеру",
    description="Переводит чат на оператора и сообщает об этом покупателю.",
    category="reply",
    color="#ef4444",
    run=run,
    config=HandoffConfig,
)
