"""Each node type's `run` on its own: what it reads, what it writes, which output it takes."""

from typing import Any

import pytest

from graphs.nodes import NodeCall
from graphs.nodes.ai_response import AIResponseConfig, clip
from graphs.nodes.ai_response import run as ai_response
from graphs.nodes.condition import ConditionConfig
from graphs.nodes.condition import run as condition
from graphs.nodes.confidence import ConfidenceConfig
from graphs.nodes.confidence import run as confidence
from graphs.nodes.context import ContextConfig
from graphs.nodes.context import run as context
from graphs.nodes.handoff import HandoffConfig
from graphs.nodes.handoff import run as handoff
from graphs.nodes.intent import IntentConfig, IntentDef
from graphs.nodes.intent import run as intent
from graphs.nodes.search import SearchConfig
from graphs.nodes.search import run as search_node
from graphs.runtime import Runtime
from tests.unit.test_compiler import search

ALL_ROUTES = frozenset({"answer", "clarify", "handoff", "fallback"})


def price(p: float, runner_up: float) -> dict[str, Any]:
    return {"intent": "price", "intent_confidence": p, "intents_ranked": [{"confidence": p}, {"confidence": runner_up}]}


def call(runtime: Runtime | None = None, connected: frozenset[str] = frozenset()) -> NodeCall:
    return NodeCall(runtime or Runtime(search=search), connected)


async def test_intent_offline_ranks_every_intent() -> None:
    step = await intent({"message": "а в самару отправите?"}, IntentConfig(), call())
    assert step.update["intent"] == "delivery" and step.engine == "offline"
    ranked = step.update["intents_ranked"]
    assert len(ranked) == 13 and abs(sum(r["confidence"] for r in ranked) - 1) < 0.01
    assert ranked[0]["confidence"] >= ranked[1]["confidence"]


async def test_intent_with_an_admins_own_intent() -> None:
    config = IntentConfig(
        intents=(
            IntentDef(id="trade_in", description="Обмен старого велосипеда", examples=(
                "можно сдать свой старый велик в зачёт?", "принимаете велосипеды в трейд-ин?",
                "обменяю свой байк с доплатой", "возьмёте мой велосипед в счёт нового?", "трейдин есть?")),
            IntentDef(id="delivery", description="Доставка", examples=("доставка есть?",)),
            IntentDef(id="other", description="Прочее", examples=("ошибся чатом",)),
        )
    )  # fmt: skip
    step = await intent({"message": "а старый велик в зачёт возьмёте?"}, config, call())
    assert step.update["intent"] == "trade_in"
    assert {r["id"] for r in step.update["intents_ranked"]} == {"trade_in", "delivery", "other"}


@pytest.mark.parametrize(
    ("state", "route"),
    [
        ({"intent": "human", "intent_confidence": 0.99}, "handoff"),
        (price(0.9, 0.05), "answer"),
        (price(0.5, 0.45), "clarify"),
        (price(0.9, 0.85), "clarify"),  # ambiguous: the runner-up is within the margin
        ({"intent": "price", "intent_confidence": 0.1}, "fallback"),
        # Retrieval counts when a Search ran first: a confident intent with nothing found is not an answer.
        ({"intent": "price", "intent_confidence": 0.9, "retrieval_score": 0.0}, "clarify"),
    ],
)  # fmt: skip
async def test_confidence_routes(state: dict[str, Any], route: str) -> None:
    step = await confidence(state, ConfidenceConfig(), call(connected=ALL_ROUTES))
    assert step.branch == route == step.update["route"]


async def test_context_keeps_recent_history_and_optional_parts() -> None:
    state = {"history": [{"role": "buyer", "text": str(i)} for i in range(20)], "item": {"title": "Велик"},
             "buyer": {"name": "Анна"}}  # fmt: skip
    step = await context(state, ContextConfig(history_length=3, include_item=True, include_buyer=False), call())
    assert [m["text"] for m in step.update["context"]["history"]] == ["17", "18", "19"]
    assert step.update["context"]["item"] == {"title": "Велик"} and step.update["context"]["buyer"] is None


async def test_search_filters_by_score_and_category() -> None:
    step = await search_node({"message": "можно картой оплатить?"}, SearchConfig(top_k=2), call())
    documents = step.update["documents"]
    assert documents[0]["external_id"] == "p1" and step.update["retrieval_score"] == documents[0]["score"]
    assert all(d["score"] >= 0.3 for d in documents) and len(documents) <= 2
    only = await search_node({"message": "можно картой оплатить?"}, SearchConfig(categories=("delivery",)), call())
    assert all(d["category"] == "delivery" for d in only.update["documents"])
    none = await search_node({"message": "можно картой оплатить?"}, SearchConfig(), call(Runtime()))
    assert none.update == {"documents": [], "retrieval_score": 0.0}


async def test_ai_response_offline_answers_from_documents_or_hands_off() -> None:
    documents = [{"external_id": "p1", "title": "Оплата", "category": "payment", "score": 0.9,
                  "passage": "Наличными или картой при получении."}]  # fmt: skip
    answered = await ai_response({"intent": "payment", "documents": documents}, AIResponseConfig(), call())
    assert answered.update == {"reply": "Наличными или картой при получении.", "handoff": False, "engine": "offline"}
    unknown = await ai_response({"intent": "product_info", "documents": []}, AIResponseConfig(), call())
    assert unknown.update["handoff"] is True and unknown.update["reply"] == ""


def test_clip_cuts_at_a_sentence() -> None:
    text = "Первое предложение. Второе предложение подлиннее. Третье."
    assert clip(text, 30) == "Первое предложение."
    assert clip("слово " * 300, 50).endswith("…") and len(clip("слово " * 300, 50)) <= 50


async def test_condition_and_handoff() -> None:
    config = ConditionConfig(expression='intent in ["price", "order"] and item.price > 10000')
    assert (await condition({"intent": "price", "item": {"price": 28500}}, config, call())).branch == "true"
    assert (await condition({"intent": "price", "item": None}, config, call())).branch == "false"
    step = await handoff({}, HandoffConfig(operator_group="sales"), call())
    assert step.update == {"handoff": True, "reply": HandoffConfig().message, "operator_group": "sales"}
