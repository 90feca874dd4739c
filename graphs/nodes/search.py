"""Search (RAG): finds the knowledge-base articles that answer the buyer's message.

Execution (added with the compiler): hybrid retrieval (:class:`core.kb.search.KnowledgeBase`) for ``message``,
restricted to ``categories`` when given and preferring the chat's listing (``item``); keeps at most ``top_k``
hits scoring at least ``min_score``. Writes ``documents`` (``[{external_id, title, category, score, passage}]``,
best first) and ``retrieval_score`` (the best score, 0 when nothing passed).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from core.kb.models import SLUG
from graphs.nodes import Handle, NodeCall, NodeConfig, NodeType, Step


class SearchConfig(NodeConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Поиск по базе знаний."""

    top_k: Annotated[
        int,
        msgspec.Meta(
            title="Сколько документов",
            description="Сколько лучших статей базы знаний передавать модели.",
            ge=1,
            le=20,
        ),
    ] = 3
    categories: Annotated[
        tuple[Annotated[str, msgspec.Meta(pattern=SLUG.pattern)], ...],
        msgspec.Meta(
            title="Разделы базы знаний",
            description="Искать только в этих разделах. Пусто — во всех.",
            max_length=100,
            extra_json_schema={"x-widget": "kb-categories"},
        ),
    ] = ()
    min_score: Annotated[
        float,
        msgspec.Meta(
            title="Минимальная релевантность",
            description="Статьи с оценкой ниже порога (от 0 до 1) не передаются модели.",
            ge=0,
            le=1,
            extra_json_schema={"x-widget": "slider", "x-step": 0.05},
        ),
    ] = 0.3


# ── Execution ─────────────────────────────────────────────────────────────────────────────────────────────────
async def run(state: dict[str, Any], config: SearchConfig, call: NodeCall) -> Step:
    item = state.get("item") or {}
    hits = []
    if call.runtime.search is not None and (state.get("message") or "").strip():
        hits = await call.runtime.search(
            state["message"],
            top_k=config.top_k,
            categories=list(config.categories) or None,
            item_title=item.get("title"),
            item_id=item.get("id"),
        )
    documents = [
        {"external_id": h.external_id, "title": h.title, "category": h.category, "score": round(h.score, 4),
         "passage": h.passage}
        for h in hits
        if h.score >= config.min_score
    ][: config.top_k]  # fmt: skip
    return Step({"documents": documents, "retrieval_score": documents[0]["score"] if documents else 0.0})


NODE = NodeType(
    type="search",
    title="Поиск в базе знаний",
    description="Находит в базе знаний статьи, которые отвечают на вопрос покупателя.",
    category="knowledge",
    color="#06b6d4",
    run=run,
    config=SearchConfig,
    outputs=(Handle("out", "Далее"),),
)
