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

from typing import Annotated

import msgspec

from graphs.nodes import Handle, MaxTokens, ModelId, NodeConfig, NodeType, Temperature

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
# `async def run(state, config: AIResponseConfig) -> dict` is added with the compiler (see the module docstring)
# and registered below as `run=run`.

NODE = NodeType(
    type="ai_response",
    title="Ответ ИИ",
    description="Пишет ответ покупателю по найденным документам и переписке или решает позвать менеджера.",
    category="reply",
    color="#f59e0b",
    config=AIResponseConfig,
    outputs=(Handle("out", "Далее"),),
)
