"""Start: where every turn enters the scenario. Exactly one per scenario; it has no input and no settings.

Execution (added with the compiler): Start does no work of its own — the compiler wires LangGraph's ``START``
to the node its output leads to.
"""

from __future__ import annotations

from graphs.nodes import Handle, NodeConfig, NodeType


class StartConfig(NodeConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Старт не настраивается."""


NODE = NodeType(
    type="start",
    title="Старт",
    description="Начало сценария: с него начинается обработка каждого сообщения покупателя.",
    category="flow",
    color="#10b981",
    config=StartConfig,
    outputs=(Handle("out", "Далее"),),
    entry=True,
)
