"""Intent: what the buyer wants from this message, as one of the scenario's intents.

Execution (added with the compiler): with an API key, asks ``model`` to classify ``message`` (with the last
few ``history`` messages for context) into ``intents`` by their descriptions and examples, as structured
output giving a probability per intent; without one, the offline classifier
(:mod:`graphs.offline.intent_classifier`) trained on the default examples plus ``intents``' examples does it.
Writes ``intent``, ``intent_confidence``, ``intents_ranked`` (every intent, best first — the Confidence node
reads the runner-up from it) and ``engine``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import msgspec

from graphs.nodes import ConfigIssue, Handle, MaxTokens, ModelId, NodeCall, NodeConfig, NodeType, Step, Temperature
from graphs.offline.intent_classifier import IntentClassifier, load_examples

INTENT_ID = r"^[a-z][a-z0-9_]{0,39}$"


class IntentDef(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Намерение покупателя."""

    id: Annotated[
        str,
        msgspec.Meta(
            title="Код",
            description="Латиница в нижнем регистре, цифры и «_»; по нему к намерению обращаются условия "
            "и узел «Уверенность».",
            pattern=INTENT_ID,
        ),
    ]
    description: Annotated[
        str,
        msgspec.Meta(
            title="Описание",
            description="Что покупатель хочет, когда пишет так; модель читает это описание.",
            min_length=1,
            max_length=500,
        ),
    ]
    examples: Annotated[
        tuple[Annotated[str, msgspec.Meta(min_length=1, max_length=500)], ...],
        msgspec.Meta(
            title="Примеры сообщений",
            description="Как покупатели пишут с этим намерением; чем разнообразнее, тем лучше.",
            max_length=200,
            extra_json_schema={"x-widget": "tags"},
        ),
    ] = ()


# The intents a scenario gets when its Intent node lists none: the ones the offline classifier is trained on
# (graphs/offline/intent_examples.jsonl). `human` and `complaint` are what the Confidence node hands off on.
DEFAULT_INTENTS: tuple[IntentDef, ...] = (
    IntentDef(id="greeting", description="Приветствие без вопроса", examples=("Здравствуйте", "Добрый день!")),
    IntentDef(
        id="availability",
        description="Есть ли товар в наличии, актуально ли объявление",
        examples=("Актуально?", "Ещё продаёте?"),
    ),
    IntentDef(id="price", description="Цена, скидка, торг", examples=("Сколько стоит?", "Уступите?")),
    IntentDef(id="delivery", description="Доставка: способы, сроки, стоимость", examples=("Доставка в Казань есть?",)),
    IntentDef(
        id="payment", description="Способы и условия оплаты", examples=("Можно картой?", "Наличными при получении?")
    ),
    IntentDef(id="returns", description="Возврат, обмен, гарантия", examples=("Если не подойдёт, можно вернуть?",)),
    IntentDef(
        id="product_info",
        description="Характеристики, состояние, комплектация товара",
        examples=("Какой размер?", "Есть дефекты?"),
    ),
    IntentDef(id="pickup", description="Самовывоз: адрес, время, осмотр", examples=("Где можно забрать?",)),
    IntentDef(id="order", description="Хочет купить или оформить заказ", examples=("Беру, как оформить?",)),
    IntentDef(
        id="human",
        description="Просит живого человека, менеджера или оператора",
        examples=("Позовите менеджера", "Вы бот?"),
    ),
    IntentDef(
        id="complaint",
        description="Жалоба, недовольство, конфликт",
        examples=("Мне прислали не тот товар", "Это обман"),
    ),
    IntentDef(id="thanks", description="Благодарность, прощание", examples=("Спасибо!", "Понял, спасибо")),
    IntentDef(id="other", description="Всё остальное: спам, не по теме, непонятное", examples=("ок", "🙂")),
)


class IntentConfig(NodeConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Настройки определения намерения."""

    model: ModelId = "openai/gpt-5-mini"
    temperature: Temperature = 0.0
    max_tokens: MaxTokens = 1000
    intents: Annotated[
        tuple[IntentDef, ...],
        msgspec.Meta(
            title="Намерения",
            description="Из чего выбирать. Пусто — 13 стандартных: greeting, availability, price, delivery, "
            "payment, returns, product_info, pickup, order, human, complaint, thanks, other.",
            max_length=100,
            extra_json_schema={"x-widget": "intent-list"},
        ),
    ] = ()

    def effective_intents(self) -> tuple[IntentDef, ...]:
        return self.intents or DEFAULT_INTENTS


def check(config: IntentConfig) -> list[ConfigIssue]:
    ids = [intent.id for intent in config.intents]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    return [ConfigIssue("duplicate_intent", "intents", f"намерение «{i}» указано несколько раз") for i in repeated]


# ── Execution ─────────────────────────────────────────────────────────────────────────────────────────────────
HISTORY_FOR_LLM = 4  # earlier messages the model sees; a short reply («а доставка?») needs its context


class _IntentScore(msgspec.Struct, frozen=True):
    id: str
    confidence: float


class _IntentAnswer(msgspec.Struct, frozen=True):
    """The model's structured answer: the likeliest intents with probabilities, best first."""

    intents: list[_IntentScore]


@lru_cache(maxsize=32)
def _classifier(intents: tuple[IntentDef, ...]) -> IntentClassifier:
    """Offline classifier for this intent set, trained once per process (fitting takes a second or two).

    The default set uses the shipped model; a custom set trains on the shipped examples of the default intents
    it keeps plus the admin's own examples."""
    if intents == DEFAULT_INTENTS:
        return IntentClassifier.from_default()
    ids = {i.id for i in intents}
    examples = [(text, label) for text, label in load_examples() if label in ids]
    examples += [(example, i.id) for i in intents for example in i.examples]
    return IntentClassifier().fit(examples)


def _ranked(pairs: list[tuple[str, float]], ids: list[str]) -> list[dict[str, Any]]:
    total = sum(max(p, 0.0) for _, p in pairs) or 1.0
    scores = {i: 0.0 for i in ids}
    for intent_id, p in pairs:
        if intent_id in scores:
            scores[intent_id] = max(p, 0.0) / total
    return [{"id": i, "confidence": round(p, 4)} for i, p in sorted(scores.items(), key=lambda kv: -kv[1])]


def _prompt(state: dict[str, Any], intents: tuple[IntentDef, ...]) -> list[dict[str, str]]:
    catalog = "\n".join(
        f"- {i.id}: {i.description}" + (f" (например: {'; '.join(i.examples[:3])})" if i.examples else "")
        for i in intents
    )
    history = "\n".join(f"{m.get('role')}: {m.get('text')}" for m in (state.get("history") or [])[-HISTORY_FOR_LLM:])
    return [
        {
            "role": "system",
            "content": "Определи намерение последнего сообщения покупателя в чате Авито. Выбери из списка, "
            "верни до трёх наиболее вероятных с вероятностями от 0 до 1, сумма не больше 1.\n" + catalog,
        },
        {"role": "user", "content": (f"Переписка до этого:\n{history}\n\n" if history else "")
         + f"Сообщение покупателя: {state.get('message', '')}"},
    ]  # fmt: skip


async def run(state: dict[str, Any], config: IntentConfig, call: NodeCall) -> Step:
    intents = config.effective_intents()
    ids = [i.id for i in intents]
    message = state.get("message") or ""
    if call.runtime.llm is None:
        ranked = _ranked(_classifier(intents).predict(message), ids)
        step = Step({}, engine="offline")
    else:
        result = await call.runtime.llm.complete(
            _prompt(state, intents),
            model=config.model,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            schema=_IntentAnswer,
        )
        ranked = _ranked([(s.id, s.confidence) for s in result.parsed.intents], ids)
        step = Step({}, engine="llm", model=result.model, tokens_in=result.tokens_in, tokens_out=result.tokens_out)
    best = ranked[0]
    step.update.update(
        {"intent": best["id"], "intent_confidence": best["confidence"], "intents_ranked": ranked, "engine": step.engine}
    )
    return step


NODE = NodeType(
    type="intent",
    title="Намерение",
    description="Определяет, чего хочет покупатель: цена, наличие, доставка, просьба позвать человека и т. д.",
    category="understanding",
    color="#6366f1",
    config=IntentConfig,
    outputs=(Handle("out", "Далее"),),
    check=check,
    run=run,
)
