"""Context: gathers what the AI Response node is given besides the documents — the dialogue and the listing.

Execution (added with the compiler): copies the last ``history_length`` messages of ``history`` and, when
enabled, ``item`` and ``buyer`` into ``context`` (``{history, item, buyer}``; a disabled part is null). It reads
only what the chat session put into the state; it loads nothing itself.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from graphs.nodes import Handle, NodeCall, NodeConfig, NodeType, Step


class ContextConfig(NodeConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Что из переписки и объявления передаётся модели."""

    history_length: Annotated[
        int,
        msgspec.Meta(
            title="Сообщений переписки",
            description="Сколько последних сообщений чата учитывать. 0 — только текущее сообщение.",
            ge=0,
            le=50,
        ),
    ] = 10
    include_item: Annotated[
        bool,
        msgspec.Meta(
            title="Карточка объявления",
            description="Передавать модели название, цену и описание объявления, по которому пишет покупатель.",
        ),
    ] = True
    include_buyer: Annotated[
        bool,
        msgspec.Meta(
            title="Профиль покупателя",
            description="Передавать модели имя покупателя и то, что о нём известно.",
        ),
    ] = True


# ── Execution ─────────────────────────────────────────────────────────────────────────────────────────────────
async def run(state: dict[str, Any], config: ContextConfig, call: NodeCall) -> Step:
    history = list(state.get("history") or [])
    recent = history[-config.history_length :] if config.history_length else []
    context = {
        "history": recent,
        "item": state.get("item") if config.include_item else None,
        "buyer": state.get("buyer") if config.include_buyer else None,
    }
    return Step({"context": context})


NODE = NodeType(
    type="context",
    title="Контекст",
    description="Собирает контекст диалога: последние сообщения, карточку объявления, профиль покупателя.",
    category="knowledge",
    color="#0ea5e9",
    run=run,
    config=ContextConfig,
    outputs=(Handle("out", "Далее"),),
)
