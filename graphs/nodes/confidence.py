"""Confidence: decides whether the bot answers, asks to clarify, or gives the chat to a person.

Execution (added with the compiler) — the route, first rule that applies:

1. ``intent`` is one of ``handoff_intents`` → ``handoff``.
2. The combined score is ``intent_weight · intent_confidence + (1 − intent_weight) · retrieval_score`` when a
   Search node ran before this one (``retrieval_score`` is in the state), else ``intent_confidence`` alone.
   The intent is *ambiguous* when the runner-up in ``intents_ranked`` is within ``ambiguity_margin`` of it.
3. score ≥ ``answer_threshold`` and not ambiguous → ``answer``.
4. score ≥ ``clarify_threshold`` (or ambiguous with a score at or above it) → ``clarify`` while
   ``clarify_count < max_clarifications``, else ``handoff``. On ``clarify`` it sets ``reply`` to
   ``clarify_message`` and increments ``clarify_count``; every other route resets it to 0.
5. Otherwise → ``fallback``.

Any of ``answer``, ``clarify`` and ``handoff`` may be left unconnected (the validator warns): that route is then
replaced by ``fallback`` (whose edge is required) *before* anything is written, so ``route`` is always the output
actually taken and an unconnected ``clarify`` neither sets ``reply`` nor counts as a clarification. Writes
``confidence`` (the score), ``route``, ``clarify_count`` and, on ``clarify``, ``reply``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from graphs.nodes import ConfigIssue, Handle, NodeCall, NodeConfig, NodeType, Step
from graphs.nodes.intent import INTENT_ID

Probability = Annotated[float, msgspec.Meta(ge=0, le=1, extra_json_schema={"x-widget": "slider", "x-step": 0.05})]


class ConfidenceConfig(NodeConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Пороги уверенности: когда бот отвечает сам, когда переспрашивает, когда зовёт менеджера."""

    answer_threshold: Annotated[
        Probability,
        msgspec.Meta(
            title="Порог ответа",
            description="Если уверенность не ниже этого порога, бот отвечает сам (выход «Ответить»).",
        ),
    ] = 0.6
    clarify_threshold: Annotated[
        Probability,
        msgspec.Meta(
            title="Порог уточнения",
            description="Если уверенность ниже порога ответа, но не ниже этого, бот задаёт уточняющий вопрос "
            "(выход «Уточнить»); ещё ниже — выход «Иначе». Не больше порога ответа.",
        ),
    ] = 0.35
    ambiguity_margin: Annotated[
        Probability,
        msgspec.Meta(
            title="Запас однозначности",
            description="Если два самых вероятных намерения отличаются меньше чем на эту величину, "
            "бот переспрашивает, даже когда уверенность высокая.",
        ),
    ] = 0.1
    max_clarifications: Annotated[
        int,
        msgspec.Meta(
            title="Уточнений подряд, не больше",
            description="После стольких уточняющих вопросов подряд чат передаётся менеджеру. "
            "0 — никогда не переспрашивать.",
            ge=0,
            le=5,
        ),
    ] = 2
    handoff_intents: Annotated[
        tuple[Annotated[str, msgspec.Meta(pattern=INTENT_ID)], ...],
        msgspec.Meta(
            title="Сразу к менеджеру",
            description="Намерения, при которых чат сразу передаётся человеку, как бы уверен ни был бот.",
            max_length=50,
            extra_json_schema={"x-widget": "intents"},
        ),
    ] = ("human", "complaint")
    intent_weight: Annotated[
        Probability,
        msgspec.Meta(
            title="Вес намерения",
            description="Насколько общая уверенность зависит от распознавания намерения, а насколько — от "
            "найденных в базе знаний документов (если поиск был раньше этого узла). 1 — только намерение.",
        ),
    ] = 0.5
    clarify_message: Annotated[
        str,
        msgspec.Meta(
            title="Уточняющий вопрос",
            description="Что бот пишет покупателю, когда не уверен, что понял вопрос.",
            min_length=1,
            max_length=1000,
            extra_json_schema={"x-widget": "textarea"},
        ),
    ] = "Уточните, пожалуйста, что именно вас интересует: наличие, цена, доставка или что-то другое?"


def check(config: ConfidenceConfig) -> list[ConfigIssue]:
    if config.clarify_threshold > config.answer_threshold:
        return [
            ConfigIssue(
                "threshold_order",
                "clarify_threshold",
                f"порог уточнения ({config.clarify_threshold:g}) больше порога ответа "
                f"({config.answer_threshold:g}), а должен быть не больше него",
            )
        ]
    return []


# ── Execution ─────────────────────────────────────────────────────────────────────────────────────────────────
def decide(state: dict[str, Any], config: ConfidenceConfig) -> tuple[str, float]:
    """(route, combined score) by the rules in the module docstring, before unconnected routes are folded."""
    intent_confidence = float(state.get("intent_confidence") or 0.0)
    if "retrieval_score" in state:
        score = config.intent_weight * intent_confidence + (1 - config.intent_weight) * float(state["retrieval_score"])
    else:
        score = intent_confidence
    if state.get("intent") in config.handoff_intents:
        return "handoff", score
    ranked = state.get("intents_ranked") or []
    runner_up = float(ranked[1]["confidence"]) if len(ranked) > 1 else 0.0
    ambiguous = intent_confidence - runner_up < config.ambiguity_margin
    if score >= config.answer_threshold and not ambiguous:
        return "answer", score
    if score >= config.clarify_threshold:  # ambiguous or not confident enough to answer: ask
        clarified = int(state.get("clarify_count") or 0)
        return ("clarify" if clarified < config.max_clarifications else "handoff"), score
    return "fallback", score


async def run(state: dict[str, Any], config: ConfidenceConfig, call: NodeCall) -> Step:
    route, score = decide(state, config)
    if route not in call.connected:
        route = "fallback"
    update: dict[str, Any] = {"confidence": round(score, 4), "route": route}
    if route == "clarify":
        update["reply"] = config.clarify_message
        update["clarify_count"] = int(state.get("clarify_count") or 0) + 1
    else:
        update["clarify_count"] = 0
    return Step(update, branch=route)


NODE = NodeType(
    type="confidence",
    title="Уверенность",
    description="Решает по уверенности бота: ответить, переспросить или передать чат менеджеру.",
    category="understanding",
    color="#8b5cf6",
    config=ConfidenceConfig,
    outputs=(
        Handle("answer", "Ответить", required=False),
        Handle("clarify", "Уточнить", required=False),
        Handle("handoff", "Менеджеру", required=False),
        Handle("fallback", "Иначе"),
    ),
    fallback="fallback",
    check=check,
    run=run,
)
