"""The node types a scenario is drawn from: what each one is called, which outputs it has, its configuration.

Each type lives in ``graphs/nodes/<type>.py`` and declares a :class:`NodeType` named ``NODE``: the palette entry
(Russian title, description, category, colour), its output handles and its configuration Struct. The Struct's
field metadata (titles, descriptions, bounds, ``x-…`` UI hints) is all the editor needs to draw the node's form;
:func:`node_types_schema` is what ``GET /api/v1/node-types`` serves.

UI hints in the JSON schemas (``extra_json_schema``), beyond standard JSON Schema:

* ``x-widget``: ``textarea`` (long text), ``slider`` (a bounded number, with ``x-step``), ``combobox`` (free
  text with ``x-suggestions``), ``tags`` (a list of short strings), ``intents`` (a list of intent ids, picked from
  the scenario's Intent node), ``kb-categories`` (knowledge-base category slugs, from the knowledge-base API),
  ``intent-list`` (the Intent node's editable table), ``expression`` (a Condition expression, see
  :mod:`graphs.expressions`).
* ``x-suggestions``: values offered in a ``combobox``; any other value is accepted too.

Graph state (plain JSON, so checkpoints and replays lose nothing): the keys the node types read and write, which
the compiler's state declaration must carry.

Input, set by the chat session before the turn:

* ``message`` — the buyer's message this turn answers (text).
* ``history`` — recent messages, oldest first: ``{role, text, at}`` with role ``buyer`` / ``bot`` / ``operator``.
* ``item`` — the listing card ``{id, title, price, url, …}``, or null; ``buyer`` — ``{name, …}``, or null.
* ``clarify_count`` — clarifying questions asked in a row in this chat (the Confidence node updates it; the
  session persists it between turns).

Written by the nodes:

* Intent: ``intent`` (the best id), ``intent_confidence`` (0–1), ``intents_ranked`` (``[{id, confidence}]``,
  every intent, best first), ``engine``.
* Confidence: ``confidence`` (the combined score, 0–1), ``route`` (the output taken), ``clarify_count``, and
  ``reply`` on ``clarify``.
* Context: ``context`` — ``{history, item, buyer}`` as the AI Response node sees them.
* Search: ``documents`` (``[{external_id, title, category, score, passage}]``, best first) and
  ``retrieval_score`` (the best score, 0–1; 0 when nothing passed ``min_score``).
* AI Response: ``reply``, ``handoff``, ``engine`` (``llm`` or ``offline``: which engine produced the result).
* Handoff: ``handoff`` (true), ``reply`` (its message), ``operator_group``.
* Condition, Start, End: nothing.

Handoff is a structured decision, never read from reply text: ``handoff`` is set by an AI Response whose model
chose the action "handoff" (the reply is then empty) and by the Handoff node (which also sets its message as
``reply``). The chat session switches the chat to operator mode when a turn ends with ``handoff`` true, whichever
terminal node it ended at — so a scenario that forgets to route an AI Response's handoff to a Handoff node still
never sends an invented answer; it only loses the polite message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple

import msgspec

__all__ = [
    "CATEGORIES",
    "MODEL_SUGGESTIONS",
    "NODE_TYPES",
    "ConfigIssue",
    "Handle",
    "MaxTokens",
    "ModelId",
    "NodeCall",
    "NodeConfig",
    "NodeRun",
    "NodeType",
    "Step",
    "Temperature",
    "node_types_schema",
]

Category = Literal["flow", "understanding", "knowledge", "reply"]

# Palette groups, in the order the editor shows them.
CATEGORIES: dict[Category, str] = {
    "flow": "Ход сценария",
    "understanding": "Понимание",
    "knowledge": "Данные и знания",
    "reply": "Ответ покупателю",
}

MODEL_SUGGESTIONS = ("openai/gpt-5.1", "openai/gpt-5", "openai/gpt-5-mini", "openai/gpt-5-nano")

# Field types shared by the nodes that call a language model (Intent and AI Response); defaults differ per node.
ModelId = Annotated[
    str,
    msgspec.Meta(
        title="Модель",
        description="Идентификатор модели у провайдера (OpenRouter или другой OpenAI-совместимый сервис). "
        "Без API-ключа узел работает на встроенной офлайн-модели.",
        min_length=1,
        max_length=200,
        extra_json_schema={"x-widget": "combobox", "x-suggestions": list(MODEL_SUGGESTIONS)},
    ),
]
Temperature = Annotated[
    float,
    msgspec.Meta(
        title="Температура",
        description="Чем выше, тем разнообразнее ответы; 0 — самые предсказуемые. "
        "Рассуждающие модели (gpt-5) могут её не учитывать.",
        ge=0,
        le=2,
        extra_json_schema={"x-widget": "slider", "x-step": 0.1},
    ),
]
MaxTokens = Annotated[
    int,
    msgspec.Meta(
        title="Лимит токенов",
        description="Сколько токенов модель может потратить на ответ. У моделей gpt-5 сюда входят и токены "
        "рассуждений, поэтому слишком малый лимит даёт пустой ответ.",
        ge=1,
        le=4000,
    ),
]


class NodeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every node's configuration (the node's ``data`` in the editor JSON).

    Unknown fields are rejected so that a typo or a field left over from an older editor is reported by the
    validator instead of silently falling back to a default.
    """

    label: Annotated[
        str,
        msgspec.Meta(
            title="Подпись",
            description="Как узел подписан на схеме; не влияет на работу бота.",
            max_length=80,
        ),
    ] = ""


class Handle(NamedTuple):
    """An output of a node: the ``sourceHandle`` of the edges leaving it."""

    id: str
    title: str
    # An optional output left without an edge sends its route to the node type's `fallback` output instead.
    required: bool = True


class ConfigIssue(NamedTuple):
    """A problem in one node's configuration that its field types cannot express (e.g. across two fields)."""

    code: str
    field: str
    message: str  # Russian, for the admin; starts in lower case, the validator puts the node's name before it


@dataclass(frozen=True, slots=True)
class NodeCall:
    """What a node's `run` gets besides the state and its config: the call's runtime (knowledge base, model)
    and which of the node's outputs have edges (a Confidence route with no edge becomes `fallback`)."""

    runtime: Any  # graphs.runtime.Runtime; Any here so that this module imports nothing heavy
    connected: frozenset[str]


@dataclass(frozen=True, slots=True)
class Step:
    """A node's result: the state update, the output it takes (multi-output nodes) and what it cost."""

    update: dict[str, Any]
    branch: str | None = None
    model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    engine: str | None = None


# `async run(state, config, call) -> Step`; the compiler wraps it into a LangGraph node that also writes the trace.
NodeRun = Callable[[dict[str, Any], Any, NodeCall], Awaitable[Step]]


@dataclass(frozen=True, slots=True)
class NodeType:
    """A palette entry and the contract the validator and the compiler hold a node of this type to."""

    type: str
    title: str
    description: str
    category: Category
    color: str
    config: type[NodeConfig]
    outputs: tuple[Handle, ...] = ()  # none: a terminal node, the turn ends here
    entry: bool = False  # the scenario's single entry: no input, exactly one per scenario
    # Where a route goes when its (optional) output has no edge; must name a required output.
    fallback: str | None = None
    # Rules across fields of a decoded config, run by the validator after the config decoded cleanly.
    check: Callable[[Any], list[ConfigIssue]] | None = None
    run: NodeRun | None = None

    @property
    def terminal(self) -> bool:
        return not self.outputs

    def handle(self, source_handle: str | None) -> Handle | None:
        """The output an edge's ``sourceHandle`` names; ``None`` when there is no such output.

        ReactFlow saves ``null`` for a node's only (unnamed) handle, so ``null`` means the output of a
        single-output node and nothing on a node with several.
        """
        if source_handle is None:
            return self.outputs[0] if len(self.outputs) == 1 else None
        return next((h for h in self.outputs if h.id == source_handle), None)

    def decode_config(self, data: dict[str, Any]) -> NodeConfig:
        """The node's ``data`` as this type's config Struct; raises :class:`msgspec.ValidationError`."""
        return msgspec.convert(data, self.config)

    def describe(self) -> dict[str, Any]:
        """The JSON-able palette entry with the config's JSON schema."""
        return {
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "color": self.color,
            "entry": self.entry,
            "terminal": self.terminal,
            "outputs": [{"id": h.id, "title": h.title, "required": h.required} for h in self.outputs],
            "fallback": self.fallback,
            "config_schema": msgspec.json.schema(self.config),
        }


def _load_node_types() -> dict[str, NodeType]:
    # The node modules import NodeType and the shared field types from this package, so they are imported only
    # once everything above exists. The order here is the palette's order.
    from graphs.nodes import ai_response, condition, confidence, context, end, handoff, intent, search, start

    modules = (start, intent, confidence, context, search, ai_response, condition, handoff, end)
    return {module.NODE.type: module.NODE for module in modules}


NODE_TYPES: dict[str, NodeType] = _load_node_types()


def node_types_schema() -> dict[str, Any]:
    """What ``GET /api/v1/node-types`` serves: palette groups and every node type with its config schema."""
    return {
        "categories": [{"id": key, "title": title} for key, title in CATEGORIES.items()],
        "node_types": [node_type.describe() for node_type in NODE_TYPES.values()],
    }
