"""AI Response: writes the reply from the dialogue context and the retrieved documents.

Execution (added with the compiler): with an API key, asks ``model`` with ``system_prompt``, then the documents
(``documents``), the listing and the dialogue (``context``, or ``history``/``item`` when no Context node ran) and
``message``, for structured output ``{action: "answer" | "handoff", reply}`` — the decision to hand off is a
field, never parsed from the text. ``answer`` sets ``reply`` (cut to ``max_reply_chars`` at a sentence
boundary); ``handoff`` sets ``handoff`` to true and leaves ``reply`` empty, so a Condition on ``handoff`` can
route to a Handoff node. Without a key the offline engine composes the reply from the best document, and hands
off when there is none. Writes ``reply``, ``handoff`` and ``engine``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from graphs.nodes import Handle, MaxTokens, ModelId, NodeCall, NodeConfig, NodeType, Step, Temperature

# Avito's chat takes longer messages, but buyers read a phone screen; the prompt asks for less, this is the cap.
MAX_REPLY_CHARS = 1000

DEFAULT_SYSTEM_PROMPT = """\
Ты — помощник продавца на Авито и отвечаешь покупателю в чате по объявлению.

Правила:
1. Отвечай только на основе документов из базы знаний, карточки объявления и переписки, которые даны ниже.
2. Никогда не придумывай цены, адреса, сроки, условия доставки, оплаты, возврата и гарантии, характеристики \
товара и контакты, если их нет в документах или в карточке объявления.
3. Если документы и карточка не отвечают на вопрос покупателя или ты не уверен в ответе, не отвечай сам: \
верни action "handoff" — вопрос передадут менеджеру.
4. Пиши коротко и по делу, не длиннее 1000 символов: одно-три предложения, без списков и разметки.
5. Обращайся на «вы», вежливо и дружелюбно, простым разговорным языком, как продавец в переписке на Авито. \
Не здоровайся повторно, если в переписке уже здоровались.
6. Не предлагай перейти в другие мессенджеры и не проси предоплату, если этого нет в документах.
"""


class AIResponseConfig(NodeConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Ответ покупателю, который пишет модель."""

    model: ModelId = "openai/gpt-5-mini"
    temperature: Temperature = 0.3
    max_tokens: MaxTokens = 2000
    system_prompt: Annotated[
        str,
        msgspec.Meta(
            title="Инструкция для модели",
            description="Системный промпт: как отвечать. Документы, карточку объявления и переписку бот "
            "добавляет к нему сам.",
            min_length=1,
            max_length=8000,
            extra_json_schema={"x-widget": "textarea"},
        ),
    ] = DEFAULT_SYSTEM_PROMPT
    max_reply_chars: Annotated[
        int,
        msgspec.Meta(
            title="Длина ответа, символов",
            description=f"Ответ длиннее обрезается по границе предложения. Не больше {MAX_REPLY_CHARS}.",
            ge=50,
            le=MAX_REPLY_CHARS,
        ),
    ] = MAX_REPLY_CHARS


# ── Execution ─────────────────────────────────────────────────────────────────────────────────────────────────
# The offline engine's own words for small talk, where no document can answer and a person is not needed.
OFFLINE_SMALL_TALK = {
    "greeting": "Здравствуйте! Чем могу помочь?",
    "thanks": "Пожалуйста! Если появятся вопросы — пишите.",
}
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


class _Reply(msgspec.Struct, frozen=True):
    """The model's structured answer: handing off is a field, never guessed from the wording."""

    action: Literal["answer", "handoff"]
    reply: str = ""


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut after the last whole sentence that fits (else at a word)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        candidate = f"{kept} {sentence}".strip()
        if len(candidate) > limit:
            break
        kept = candidate
    return kept or text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _prompt(state: dict[str, Any], config: AIResponseConfig) -> list[dict[str, str]]:
    """The documents first, then the listing and the dialogue, then the question — everything the reply may use."""
    context = state.get("context") or {"history": state.get("history") or [], "item": state.get("item")}
    documents = state.get("documents") or []
    parts = ["Документы из базы знаний:"]
    parts += [f"[{d['external_id']}] {d['title']}: {d['passage']}" for d in documents] or ["(ничего не найдено)"]
    if item := context.get("item"):
        parts.append(f"Объявление: {item.get('title', '')}, цена: {item.get('price', 'не указана')}")
    if buyer := context.get("buyer"):
        parts.append(f"Покупатель: {buyer.get('name', '')}")
    if history := context.get("history"):
        parts.append("Переписка:")
        parts += [f"{m.get('role')}: {m.get('text')}" for m in history]
    parts.append(f"Новое сообщение покупателя: {state.get('message', '')}")
    system = f"{config.system_prompt}\nОтветь JSON: action (answer или handoff) и reply (текст ответа)."
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(parts)}]


async def run(state: dict[str, Any], config: AIResponseConfig, call: NodeCall) -> Step:
    if call.runtime.llm is None:
        return _offline(state, config)
    result = await call.runtime.llm.complete(
        _prompt(state, config),
        model=config.model,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        schema=_Reply,
    )
    answer: _Reply = result.parsed
    reply = clip(answer.reply, config.max_reply_chars) if answer.action == "answer" else ""
    handoff = answer.action == "handoff" or not reply
    return Step(
        {"reply": reply, "handoff": handoff, "engine": "llm"},
        engine="llm",
        model=result.model,
        tokens_in=result.tokens_in,
        tokens_out=result.tokens_out,
    )


def _offline(state: dict[str, Any], config: AIResponseConfig) -> Step:
    """Composes the reply from the best-matching passage; without one, hands off rather than guess."""
    documents = state.get("documents") or []
    if state.get("intent") in OFFLINE_SMALL_TALK and not documents:
        reply = OFFLINE_SMALL_TALK[state["intent"]]
    elif documents:
        reply = clip(documents[0]["passage"], config.max_reply_chars)
    else:
        reply = ""
    return Step({"reply": reply, "handoff": not reply, "engine": "offline"}, engine="offline")


NODE = NodeType(
    type="ai_response",
    title="Ответ ИИ",
    description="Пишет ответ покупателю по найденным документам и переписке или решает позвать менеджера.",
    category="reply",
    color="#f59e0b",
    config=AIResponseConfig,
    outputs=(Handle("out", "Далее"),),
    run=run,
)
