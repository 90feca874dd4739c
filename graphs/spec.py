"""Scenarios as the ReactFlow editor saves them, and the validation that runs before one is saved or compiled.

A scenario is ``{id, name, version, nodes: [{id, type, position: {x, y}, data}], edges: [{id, source, target,
sourceHandle}]}``; ``data`` is the node's configuration (its type's config Struct in :mod:`graphs.nodes`).
Fields the editor adds for itself (``selected``, ``measured``, ``targetHandle``, …) are ignored.

:func:`validate` reports every problem at once, each naming the node and/or edge at fault so the editor can
highlight it. Codes (all errors unless marked):

======================= ================================================================================
``unknown_type``        the node's type is not one of :data:`graphs.nodes.NODE_TYPES`
``invalid_node_id``     a node id the graph engine cannot use (see :data:`NODE_ID`)
``duplicate_node_id``   two nodes share an id (reported on the second)
``duplicate_edge_id``   two edges share an id (reported on the second)
``missing_start``       no Start node
``multiple_starts``     more than one Start (reported on each after the first)
``edge_source_missing`` an edge leaves a node that does not exist
``edge_target_missing`` an edge enters a node that does not exist
``unknown_handle``      an edge leaves an output its node does not have (``null`` is accepted only for nodes
                        with a single output)
``duplicate_output``    a second edge leaves the same output: every output leads to exactly one node
``edge_into_start``     an edge enters Start
``edge_from_terminal``  an edge leaves End or Handoff
``unconnected_output``  an output with no edge. A *warning* for the optional outputs of Confidence (``answer``,
                        ``clarify``, ``handoff``: that route then takes ``fallback``); an error for every other
                        output, ``fallback`` included — the graph would have nowhere to go
``unreachable``         no path from Start leads to the node
``no_terminal``         no path from the node leads to End or Handoff (a closed loop)
``invalid_config``      a ``data`` field of the wrong type, out of range, unknown or missing (one problem per
                        field; ``field`` holds msgspec's path, e.g. ``intents[0].id``)
``threshold_order``     Confidence: ``clarify_threshold`` above ``answer_threshold``
``invalid_expression``  Condition: the expression does not parse (the message names the position)
``duplicate_intent``    Intent: two intents with the same id
``unknown_intent``      *warning*: Confidence hands off on an intent no Intent node of the scenario produces
                        (custom intents without ``human``: «позовите менеджера» would no longer reach a person)
======================= ================================================================================

Each root cause is reported once: an edge with a wrong handle still counts as a connection for reachability,
and a node already reported for an unconnected output or an edge to nowhere counts as an end for
``no_terminal``, so one missing edge does not also flag every node upstream of it.

Cycles that have a way out are allowed (e.g. retrying an AI Response while its reply is too long); the
compiler's step limit bounds them at run time.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Annotated, Any, Literal

import msgspec

from core.errors import InvalidInput
from graphs.nodes import NODE_TYPES, NodeConfig, NodeType
from graphs.nodes.confidence import ConfidenceConfig
from graphs.nodes.intent import IntentConfig

__all__ = [
    "NODE_ID",
    "Edge",
    "InvalidScenario",
    "Node",
    "Position",
    "Problem",
    "Scenario",
    "decode_scenario",
    "validate",
    "validate_or_raise",
]

# Node ids become LangGraph node names: those may not be `__start__`/`__end__` nor contain `|` or `:`. The
# editor generates ids; this pattern admits its `dndnode_3`, `intent-1` and UUIDs.
NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Position(msgspec.Struct, frozen=True):
    x: float
    y: float


class Node(msgspec.Struct, frozen=True, kw_only=True):
    id: Id
    type: str  # checked by `validate`, so that an unknown type is a problem on the node, not a decode failure
    position: Position
    data: dict[str, Any] = {}


class Edge(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: Id
    source: Id
    target: Id
    source_handle: str | None = None  # `sourceHandle`; null for a node's only output


class Scenario(msgspec.Struct, frozen=True, kw_only=True):
    id: Id
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    version: Annotated[int, msgspec.Meta(ge=1)]
    description: str = ""
    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()


class Problem(msgspec.Struct, frozen=True):
    code: str
    message_ru: str
    node_id: str | None = None
    edge_id: str | None = None
    # The config field at fault, as msgspec's path into the node's `data` ("intents[0].id"); for
    # `unconnected_output`, the output's id.
    field: str | None = None
    severity: Literal["error", "warning"] = "error"


class InvalidScenario(InvalidInput):
    """A scenario with errors; ``problems`` holds all of them (and any warnings) for the editor."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p.message_ru for p in problems if p.severity == "error"]
        super().__init__("Сценарий содержит ошибки:\n" + "\n".join(f"— {m}" for m in errors))


def decode_scenario(data: bytes | str | Mapping[str, Any]) -> Scenario:
    """The editor's JSON (bytes, text or an already-parsed dict) as a :class:`Scenario`.

    Raises :class:`core.errors.InvalidInput` when it is not a scenario at all (not JSON, a missing ``nodes``
    list…); everything about its content is left to :func:`validate`.
    """
    try:
        if isinstance(data, bytes | str):
            return msgspec.json.decode(data, type=Scenario)
        return msgspec.convert(data, Scenario)
    except msgspec.ValidationError as error:
        path, reason = _explain(str(error))
        where = f" (поле {path})" if path else ""
        raise InvalidInput(f"Сценарий не читается{where}: {reason}") from error
    except msgspec.DecodeError as error:
        raise InvalidInput(f"Сценарий не читается: это не JSON ({error})") from error


def validate_or_raise(scenario: Scenario) -> list[Problem]:
    """Raise :class:`InvalidScenario` (an ``InvalidInput``) listing every error; else return the warnings."""
    problems = validate(scenario)
    if any(p.severity == "error" for p in problems):
        raise InvalidScenario(problems)
    return problems


def validate(scenario: Scenario) -> list[Problem]:
    """Every problem of ``scenario``, errors and warnings, in a stable order: nodes, edges, then the graph."""
    return _Validator(scenario).run()


class _Validator:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.problems: list[Problem] = []
        self.nodes: dict[str, Node] = {}  # first node with each id; later duplicates are reported and ignored
        # Edges whose both ends exist, for reachability (even with a wrong handle: reported on its own).
        self.links: list[Edge] = []
        self.connected: dict[tuple[str, str], Edge] = {}  # (node id, output id) → the edge leaving it
        self.ends: set[str] = set()  # nodes that count as an end: terminal, or their problem already reported
        self.configs: dict[str, NodeConfig] = {}  # node id → its config, for the nodes whose config decoded

    def run(self) -> list[Problem]:
        for node in self.scenario.nodes:
            self._check_node(node)
        self._check_start()
        seen_edges: set[str] = set()
        for edge in self.scenario.edges:
            if edge.id in seen_edges:
                self._add("duplicate_edge_id", f"Идентификатор связи «{edge.id}» повторяется", edge=edge)
            seen_edges.add(edge.id)
            self._check_edge(edge)
        for node in self.nodes.values():
            self._check_outputs(node)
        self._check_paths()
        self._check_intents()
        return self.problems

    # -- nodes ---------------------------------------------------------------------------------------

    def _check_node(self, node: Node) -> None:
        if node.id in self.nodes:
            self._add("duplicate_node_id", f"Идентификатор узла «{node.id}» повторяется", node=node)
            return
        self.nodes[node.id] = node
        if not NODE_ID.match(node.id):
            self._add(
                "invalid_node_id",
                f"Идентификатор узла «{node.id}» недопустим: нужны латинские буквы, цифры, «_», «-» или «.», "
                "не больше 100 символов, первый символ — буква или цифра",
                node=node,
            )
        node_type = NODE_TYPES.get(node.type)
        if node_type is None:
            self._add("unknown_type", f"Узел «{node.id}»: неизвестный тип «{node.type}»", node=node)
            self.ends.add(node.id)  # its outputs are unknown, so nothing downstream can be judged from it
            return
        if node_type.terminal:
            self.ends.add(node.id)
        config, errors = _decode_config(node_type, node.data)
        for path, reason in errors:
            title = _field_title(node_type.config, path)
            self._add("invalid_config", f"{self._name(node)}: поле «{title}»: {reason}", node=node, field=path)
        if config is None:
            return
        self.configs[node.id] = config
        if node_type.check is not None:
            for issue in node_type.check(config):
                self._add(issue.code, f"{self._name(node)}: {issue.message}", node=node, field=issue.field)

    def _starts(self) -> list[Node]:
        return [n for n in self.nodes.values() if (t := NODE_TYPES.get(n.type)) is not None and t.entry]

    def _check_start(self) -> None:
        starts = self._starts()
        if not starts:
            self._add("missing_start", "В сценарии нет узла «Старт»: с него начинается обработка сообщения")
        for extra in starts[1:]:
            self._add(
                "multiple_starts",
                f"{self._name(extra)}: в сценарии может быть только один «Старт» (первый — «{starts[0].id}»)",
                node=extra,
            )

    # -- edges ---------------------------------------------------------------------------------------

    def _check_edge(self, edge: Edge) -> None:
        source = self.nodes.get(edge.source)
        target = self.nodes.get(edge.target)
        if source is None:
            self._add(
                "edge_source_missing", f"Связь «{edge.id}» выходит из несуществующего узла «{edge.source}»", edge=edge
            )
        if target is None:
            self._add(
                "edge_target_missing", f"Связь «{edge.id}» ведёт в несуществующий узел «{edge.target}»", edge=edge
            )
            if source is not None:
                self.ends.add(source.id)
        if source is not None and target is not None:
            self.links.append(edge)
        if target is not None and (t := NODE_TYPES.get(target.type)) is not None and t.entry:
            self._add(
                "edge_into_start",
                f"Связь «{edge.id}» ведёт в «Старт»: в начало сценария входить нельзя",
                node=target,
                edge=edge,
            )
        source_type = NODE_TYPES.get(source.type) if source is not None else None
        if source is None or source_type is None:
            return
        if source_type.terminal:
            self._add(
                "edge_from_terminal",
                f"{self._name(source)}: на этом узле сценарий заканчивается, из него не может выходить связь "
                f"«{edge.id}»",
                node=source,
                edge=edge,
            )
            return
        handle = source_type.handle(edge.source_handle)
        if handle is None:
            outputs = ", ".join(f"«{h.id}»" for h in source_type.outputs)
            if edge.source_handle is None:
                message = f"{self._name(source)}: у связи «{edge.id}» не указан выход (у узла их несколько: {outputs})"
            else:
                message = (
                    f"{self._name(source)}: связь «{edge.id}» идёт из выхода «{edge.source_handle}», "
                    f"а такого выхода у узла нет (есть: {outputs})"
                )
            self._add("unknown_handle", message, node=source, edge=edge)
            return
        if (source.id, handle.id) in self.connected:
            first = self.connected[(source.id, handle.id)]
            self._add(
                "duplicate_output",
                f"{self._name(source)}: из выхода «{handle.title}» уже идёт связь «{first.id}», вторая «{edge.id}» "
                "лишняя — из каждого выхода только одна связь",
                node=source,
                edge=edge,
            )
            return
        self.connected[(source.id, handle.id)] = edge

    def _check_outputs(self, node: Node) -> None:
        node_type = NODE_TYPES.get(node.type)
        if node_type is None:
            return
        fallback = node_type.handle(node_type.fallback) if node_type.fallback else None
        for handle in node_type.outputs:
            if (node.id, handle.id) in self.connected:
                continue
            if handle.required:
                self._add(
                    "unconnected_output",
                    f"{self._name(node)}: выход «{handle.title}» ни к чему не подключён",
                    node=node,
                    field=handle.id,
                )
                self.ends.add(node.id)
            else:
                instead = f"; в этом случае сработает выход «{fallback.title}»" if fallback else ""
                self._add(
                    "unconnected_output",
                    f"{self._name(node)}: выход «{handle.title}» ни к чему не подключён{instead}",
                    node=node,
                    field=handle.id,
                    severity="warning",
                )

    # -- paths ---------------------------------------------------------------------------------------

    def _check_paths(self) -> None:
        forward: dict[str, list[str]] = defaultdict(list)
        backward: dict[str, list[str]] = defaultdict(list)
        for edge in self.links:
            forward[edge.source].append(edge.target)
            backward[edge.target].append(edge.source)
        starts = [n.id for n in self._starts()]
        if starts:  # without a Start, "unreachable" would flag every node; `missing_start` says it once
            reachable = _reach(starts, forward)
            for node in self.nodes.values():
                if node.id not in reachable:
                    self._add("unreachable", f"{self._name(node)}: до этого узла нельзя дойти от «Старта»", node=node)
        finishing = _reach(self.ends, backward)
        for node in self.nodes.values():
            if node.id not in finishing:
                self._add(
                    "no_terminal",
                    f"{self._name(node)}: из этого узла нельзя дойти ни до «Конца», ни до «Передать менеджеру» — "
                    "сценарий зациклится",
                    node=node,
                )

    def _check_intents(self) -> None:
        produced: set[str] = set()
        for config in self.configs.values():
            if isinstance(config, IntentConfig):
                produced.update(intent.id for intent in config.effective_intents())
        if not produced:
            return  # no Intent node (or none that decoded): nothing to compare with
        for node_id, config in self.configs.items():
            if not isinstance(config, ConfidenceConfig):
                continue
            unknown = [intent for intent in config.handoff_intents if intent not in produced]
            if unknown:
                listed = ", ".join(f"«{intent}»" for intent in unknown)
                self._add(
                    "unknown_intent",
                    f"{self._name(self.nodes[node_id])}: намерений {listed} нет среди намерений сценария, "
                    "передача менеджеру по ним никогда не сработает",
                    node=self.nodes[node_id],
                    field="handoff_intents",
                    severity="warning",
                )

    # -- helpers -------------------------------------------------------------------------------------

    def _name(self, node: Node) -> str:
        """«Узел «Подпись» (id)» — the admin's label if they gave one, else the type's title."""
        label = node.data.get("label")
        node_type = NODE_TYPES.get(node.type)
        if not isinstance(label, str) or not label.strip():
            label = node_type.title if node_type is not None else node.type
        return f"Узел «{label}» ({node.id})"

    def _add(
        self,
        code: str,
        message: str,
        *,
        node: Node | None = None,
        edge: Edge | None = None,
        field: str | None = None,
        severity: Literal["error", "warning"] = "error",
    ) -> None:
        self.problems.append(
            Problem(
                code,
                message,
                node_id=node.id if node is not None else None,
                edge_id=edge.id if edge is not None else None,
                field=field,
                severity=severity,
            )
        )


def _reach(roots: Iterable[str], links: Mapping[str, list[str]]) -> set[str]:
    seen = set(roots)
    queue = deque(seen)
    while queue:
        for following in links.get(queue.popleft(), ()):
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return seen


# --------------------------------------------------------------------------------------------------
# Config decoding with every field's problem, in Russian
# --------------------------------------------------------------------------------------------------


def _decode_config(node_type: NodeType, data: Mapping[str, Any]) -> tuple[NodeConfig | None, list[tuple[str, str]]]:
    """Decode ``data``; on failure, a ``(field path, Russian reason)`` for every field at fault.

    msgspec stops at the first error, so the offending top-level field is dropped and the rest decoded again
    until it decodes or the error concerns a field already dropped (a required field reported as wrong is not
    reported again as missing).
    """
    remaining = dict(data)
    errors: list[tuple[str, str]] = []
    while True:
        try:
            config = node_type.decode_config(remaining)
        except msgspec.ValidationError as error:
            path, reason = _explain(str(error))
            key = _top_key(path)
            if key in data and key not in remaining:
                return None, errors
            errors.append((path, reason))
            if key not in remaining:
                return None, errors
            del remaining[key]
        else:
            return (config if not errors else None), errors


_TYPE_NAMES = {
    "int": "целое число",
    "float": "число",
    "str": "строка",
    "bool": "да/нет (true/false)",
    "null": "пустое значение (null)",
    "array": "список",
    "object": "объект",
}
_COMPARISONS = {">=": "не меньше", "<=": "не больше", ">": "больше", "<": "меньше"}


def _explain(message: str) -> tuple[str, str]:
    """msgspec's ``"Expected `int` >= 1 - at `$.top_k`"`` as ``("top_k", "значение должно быть не меньше 1")``."""
    text, _, at = message.partition(" - at `")
    path = at.rstrip("`").removeprefix("$").removeprefix(".")

    if m := re.fullmatch(r"Object contains unknown field `(.+)`", text):
        return _join(path, m[1]), "такого поля нет"
    if m := re.fullmatch(r"Object missing required field `(.+)`", text):
        return _join(path, m[1]), "обязательное поле не заполнено"
    if m := re.fullmatch(r"Expected `(\w+)`, got `(\w+)`", text):
        expected, got = _TYPE_NAMES.get(m[1], m[1]), _TYPE_NAMES.get(m[2], m[2])
        return path, f"ожидалось: {expected}, получено: {got}"
    if m := re.fullmatch(r"Expected `(\w+)` of length (>=|<=) (\d+)", text):
        unit = "символов" if m[1] == "str" else "элементов"
        return path, f"{unit} должно быть {_COMPARISONS[m[2]]} {m[3]}"
    if m := re.fullmatch(r"Expected `(\w+)` (>=|<=|>|<) (.+)", text):
        return path, f"значение должно быть {_COMPARISONS[m[2]]} {_number(m[3])}"
    if m := re.fullmatch(r"Expected `str` matching regex '(.*)'", text):
        return path, f"значение не подходит под формат {m[1]}"
    return path, f"недопустимое значение ({text})"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _number(text: str) -> str:
    # msgspec prints float bounds as `2.0`; the form shows `2`.
    return text.removesuffix(".0")


@cache
def _field_titles(config: type[NodeConfig]) -> dict[str, str]:
    schema = msgspec.json.schema(config)
    properties = schema["$defs"][config.__name__]["properties"]
    return {name: prop.get("title", name) for name, prop in properties.items()}


def _field_title(config: type[NodeConfig], path: str) -> str:
    """The form's title for the top-level field of ``path`` (followed by the path when it goes deeper)."""
    key = _top_key(path)
    title = _field_titles(config).get(key, key)
    return title if key == path else f"{title} → {path}"


def _top_key(path: str) -> str:
    """``intents[0].id`` → ``intents``."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]
