"""End: the turn is over. The chat session sends ``reply`` if it is not empty and keeps the chat with the bot
(unless ``handoff`` was set on the way: see :mod:`graphs.nodes`). A scenario may have several End nodes.

Execution (added with the compiler): End does no work of its own — the compiler wires it to LangGraph's ``END``.
"""

from __future__ import annotations

from graphs.nodes import NodeConfig, NodeType


class EndConfig(NodeConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Конец не настраивается."""


NODE = NodeType(
    type="end",
    title="Конец",
    description="Завершает обработку сообщения: бот отправляет подготовленный ответ, если он есть.",
    category="flow",
    color="#475569",
    config=EndConfig,
)
