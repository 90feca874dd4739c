"""Scenario decoding and validation, the node catalogue the editor draws from, and the shipped default scenario.

Each validation rule gets its own small scenario: a valid chain Start → Intent → End with one thing broken.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from core.errors import InvalidInput
from graphs.nodes import NODE_TYPES, node_types_schema
from graphs.nodes.ai_response import DEFAULT_SYSTEM_PROMPT, AIResponseConfig
from graphs.nodes.confidence import ConfidenceConfig
from graphs.nodes.handoff import HandoffConfig
from graphs.nodes.intent import DEFAULT_INTENTS, IntentConfig
from graphs.offline.intent_classifier import load_examples
from graphs.spec import InvalidScenario, Problem, Scenario, decode_scenario, validate, validate_or_raise

DEFAULT_SCENARIO = Path(__file__).parents[2] / "graphs" / "scenarios" / "default.json"
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


def node(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": data}


def edge(source: str, target: str, handle: str | None = "out", edge_id: str | None = None) -> dict[str, Any]:
    return {"id": edge_id or f"{source}-{handle}-{target}", "source": source, "target": target, "sourceHandle": handle}


def scenario(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Scenario:
    return decode_scenario({"id": "test", "name": "Тест", "version": 1, "nodes": nodes, "edges": edges})


def chain(*extra_nodes: dict[str, Any], extra_edges: tuple[dict[str, Any], ...] = ()) -> Scenario:
    """Start → Intent → End, plus whatever the test adds."""
    nodes = [node("start", "start"), node("intent", "intent"), node("end", "end"), *extra_nodes]
    edges = [edge("start", "intent"), edge("intent", "end"), *extra_edges]
    return scenario(nodes, edges)


def codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


def only(problems: list[Problem], code: str) -> Problem:
    matching = [p for p in problems if p.code == code]
    assert len(matching) == 1, problems
    return matching[0]


def names_node(problem: Problem, node_id: str) -> None:
    assert problem.node_id == node_id
    assert node_id in problem.message_ru
    assert CYRILLIC.search(problem.message_ru)


def names_edge(problem: Problem, edge_id: str) -> None:
    assert problem.edge_id == edge_id
    assert edge_id in problem.message_ru
    assert CYRILLIC.search(problem.message_ru)


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


def test_a_valid_chain_has_no_problems() -> None:
    assert validate(chain()) == []


def test_decode_accepts_bytes_text_and_dicts_and_ignores_editor_fields() -> None:
    doc = {
        "id": "s1",
        "name": "Сценарий",
        "version": 3,
        "viewport": {"x": 0, "y": 0, "zoom": 1},
        "nodes": [
            {**node("start", "start"), "measured": {"width": 120, "height": 40}, "selected": True},
            node("end", "end"),
        ],
        "edges": [{**edge("start", "end"), "targetHandle": None, "animated": True, "type": "smoothstep"}],
    }
    for form in (doc, json.dumps(doc), json.dumps(doc).encode()):
        decoded = decode_scenario(form)
        assert decoded.version == 3
        assert decoded.edges[0].source_handle == "out"
        assert decoded.nodes[1].data == {}
    assert validate(decode_scenario(doc)) == []


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "не JSON"),
        ({"id": "s", "name": "S", "version": 1, "nodes": {}}, "nodes"),
        ({"id": "s", "name": "S", "version": 0}, "version"),
        ({"name": "S", "version": 1}, "id"),
        ({"id": "s", "name": "S", "version": 1, "nodes": [{"id": "a", "type": "start"}]}, "position"),
    ],
)
def test_decode_rejects_what_is_not_a_scenario(data: Any, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode_scenario(data)
    assert "Сценарий не читается" in str(caught.value)
    assert fragment in str(caught.value)


# --------------------------------------------------------------------------------------------------
# Node problems
# --------------------------------------------------------------------------------------------------


def test_unknown_node_type() -> None:
    problems = validate(chain(node("x", "telegram"), extra_edges=(edge("intent", "x", edge_id="to-x"),)))
    names_node(only(problems, "unknown_type"), "x")
    assert "telegram" in only(problems, "unknown_type").message_ru


def test_missing_start() -> None:
    s = scenario([node("intent", "intent"), node("end", "end")], [edge("intent", "end")])
    problem = only(validate(s), "missing_start")
    assert problem.node_id is None
    assert codes(validate(s)) == ["missing_start"]  # no "unreachable" for every node on top of it


def test_two_starts() -> None:
    s = chain(node("start2", "start"), extra_edges=(edge("start2", "end"),))
    names_node(only(validate(s), "multiple_starts"), "start2")


def test_duplicate_node_id() -> None:
    s = chain(node("intent", "context"))
    names_node(only(validate(s), "duplicate_node_id"), "intent")


@pytest.mark.parametrize("bad_id", ["__start__", "__end__", "a|b", "a:b", "-x", "узел"])
def test_node_ids_must_be_usable_as_graph_node_names(bad_id: str) -> None:
    s = scenario(
        [node("start", "start"), node(bad_id, "intent"), node("end", "end")],
        [edge("start", bad_id), edge(bad_id, "end")],
    )
    names_node(only(validate(s), "invalid_node_id"), bad_id)


def test_duplicate_edge_id() -> None:
    s = scenario(
        [node("start", "start"), node("intent", "intent"), node("end", "end")],
        [edge("start", "intent", edge_id="e1"), edge("intent", "end", edge_id="e1")],
    )
    problem = only(validate(s), "duplicate_edge_id")
    names_edge(problem, "e1")


def test_edge_from_a_missing_node() -> None:
    s = chain(extra_edges=(edge("ghost", "end", edge_id="from-ghost"),))
    problem = only(validate(s), "edge_source_missing")
    names_edge(problem, "from-ghost")
    assert "ghost" in problem.message_ru


def test_edge_to_a_missing_node() -> None:
    s = scenario(
        [node("start", "start"), node("intent", "intent")],
        [edge("start", "intent"), edge("intent", "ghost", edge_id="to-ghost")],
    )
    problems = validate(s)
    problem = only(problems, "edge_target_missing")
    names_edge(problem, "to-ghost")
    assert "ghost" in problem.message_ru
    # The dangling edge is the one root cause: no "no_terminal" for every node upstream of it.
    assert codes(problems) == ["edge_target_missing"]


def test_unknown_source_handle() -> None:
    s = chain(
        node("cond", "condition", expression="true"),
        extra_edges=(
            edge("start", "cond", edge_id="to-cond"),
            edge("cond", "end", "yes", edge_id="cond-yes"),
            edge("cond", "end", "false"),
        ),
    )
    problem = only(validate(s), "unknown_handle")
    names_node(problem, "cond")
    names_edge(problem, "cond-yes")
    assert "yes" in problem.message_ru


def test_null_handle_is_the_only_output_of_a_single_output_node_but_not_of_others() -> None:
    s = scenario(
        [node("start", "start"), node("intent", "intent"), node("conf", "confidence"), node("end", "end")],
        [edge("start", "intent", None), edge("intent", "conf", None), edge("conf", "end", None, edge_id="e-null")],
    )
    problems = validate(s)
    problem = only(problems, "unknown_handle")
    names_edge(problem, "e-null")
    assert problem.node_id == "conf"
    assert all(p.node_id != "intent" and p.node_id != "start" for p in problems)


def test_a_required_output_left_unconnected_is_an_error() -> None:
    s = chain(
        node("cond", "condition", expression="true"),
        extra_edges=(edge("intent", "cond", edge_id="to-cond"), edge("cond", "end", "true")),
    )
    problem = only(validate(s), "unconnected_output")
    names_node(problem, "cond")
    assert problem.field == "false"
    assert problem.severity == "error"
    assert "«Нет»" in problem.message_ru


def test_confidence_without_fallback_is_an_error() -> None:
    s = scenario(
        [node("start", "start"), node("conf", "confidence"), node("end", "end"), node("h", "handoff")],
        [
            edge("start", "conf"),
            edge("conf", "end", "answer"),
            edge("conf", "end", "clarify"),
            edge("conf", "h", "handoff"),
        ],
    )
    problem = only(validate(s), "unconnected_output")
    names_node(problem, "conf")
    assert problem.field == "fallback"
    assert problem.severity == "error"


def test_confidence_optional_outputs_left_unconnected_are_warnings() -> None:
    s = scenario(
        [node("start", "start"), node("conf", "confidence"), node("end", "end")],
        [edge("start", "conf"), edge("conf", "end", "fallback")],
    )
    problems = validate(s)
    assert codes(problems) == ["unconnected_output"] * 3
    assert {p.field for p in problems} == {"answer", "clarify", "handoff"}
    assert all(p.severity == "warning" and "«Иначе»" in p.message_ru for p in problems)
    assert validate_or_raise(s) == problems  # warnings do not block saving


def test_two_edges_from_one_output() -> None:
    s = chain(node("end2", "end"), extra_edges=(edge("intent", "end2", edge_id="second"),))
    problem = only(validate(s), "duplicate_output")
    names_node(problem, "intent")
    names_edge(problem, "second")


def test_edge_into_start() -> None:
    s = chain(
        node("cond", "condition", expression="true"),
        extra_edges=(
            edge("intent", "cond", edge_id="to-cond"),
            edge("cond", "end", "true"),
            edge("cond", "start", "false"),
        ),
    )
    problems = validate(s)
    problem = only(problems, "edge_into_start")
    names_edge(problem, "cond-false-start")
    assert problem.node_id == "start"


@pytest.mark.parametrize("terminal", ["end", "handoff"])
def test_edge_out_of_a_terminal_node(terminal: str) -> None:
    s = scenario(
        [node("start", "start"), node("last", terminal), node("end", "end")],
        [edge("start", "last"), edge("last", "end", edge_id="after-last")],
    )
    problem = only(validate(s), "edge_from_terminal")
    names_node(problem, "last")
    names_edge(problem, "after-last")


def test_node_unreachable_from_start() -> None:
    s = chain(node("stray", "context"), node("stray_end", "end"), extra_edges=(edge("stray", "stray_end"),))
    problems = validate(s)
    assert codes(problems) == ["unreachable", "unreachable"]
    names_node(problems[0], "stray")
    names_node(problems[1], "stray_end")


def test_node_from_which_no_end_can_be_reached() -> None:
    # context ⇄ search: every output is connected, yet the turn can never finish.
    s = scenario(
        [node("start", "start"), node("ctx", "context"), node("find", "search"), node("end", "end")],
        [edge("start", "ctx"), edge("ctx", "find"), edge("find", "ctx")],
    )
    problems = validate(s)
    stuck = [p for p in problems if p.code == "no_terminal"]
    assert {p.node_id for p in stuck} == {"start", "ctx", "find"}
    for p in stuck:
        names_node(p, p.node_id or "")
    names_node(only(problems, "unreachable"), "end")


def test_a_loop_with_a_way_out_is_allowed() -> None:
    s = scenario(
        [
            node("start", "start"),
            node("reply", "ai_response"),
            node("too_long", "condition", expression="len(reply) > 500"),
            node("end", "end"),
        ],
        [
            edge("start", "reply"),
            edge("reply", "too_long"),
            edge("too_long", "reply", "true"),
            edge("too_long", "end", "false"),
        ],
    )
    assert validate(s) == []


# --------------------------------------------------------------------------------------------------
# Configuration problems
# --------------------------------------------------------------------------------------------------


def config_problems(node_type: str, **data: Any) -> list[Problem]:
    """Problems of a single node of ``node_type`` with ``data``, placed on a valid path."""
    outputs = NODE_TYPES[node_type].outputs
    s = scenario(
        [node("start", "start"), node("n", node_type, **data), node("end", "end")],
        [edge("start", "n"), *(edge("n", "end", h.id) for h in outputs)],
    )
    return validate(s)


@pytest.mark.parametrize(
    ("node_type", "data", "field", "fragment"),
    [
        ("search", {"top_k": 50}, "top_k", "не больше 20"),
        ("search", {"top_k": 0}, "top_k", "не меньше 1"),
        ("search", {"min_score": 1.5}, "min_score", "не больше 1"),
        ("search", {"top_k": "три"}, "top_k", "ожидалось: целое число, получено: строка"),
        ("search", {"top_k": 2.5}, "top_k", "ожидалось: целое число"),
        ("search", {"categories": ["Доставка"]}, "categories[0]", "формат"),
        ("intent", {"temperature": 3}, "temperature", "не больше 2"),
        ("intent", {"temperature": True}, "temperature", "получено: да/нет"),
        ("intent", {"max_tokens": 5000}, "max_tokens", "не больше 4000"),
        ("intent", {"model": ""}, "model", "символов должно быть не меньше 1"),
        ("intent", {"intents": [{"id": "Цена", "description": "цена"}]}, "intents[0].id", "формат"),
        ("intent", {"intents": [{"id": "price"}]}, "intents[0].description", "обязательное поле"),
        ("confidence", {"answer_threshold": -0.1}, "answer_threshold", "не меньше 0"),
        ("confidence", {"max_clarifications": 6}, "max_clarifications", "не больше 5"),
        ("confidence", {"handoff_intents": "human"}, "handoff_intents", "ожидалось: список"),
        ("confidence", {"handoff_intents": ["Человек"]}, "handoff_intents[0]", "формат"),
        ("context", {"history_length": 51}, "history_length", "не больше 50"),
        ("context", {"include_item": "yes"}, "include_item", "ожидалось: да/нет"),
        ("ai_response", {"max_reply_chars": 1001}, "max_reply_chars", "не больше 1000"),
        ("ai_response", {"system_prompt": None}, "system_prompt", "получено: пустое значение"),
        ("handoff", {"operator_group": ""}, "operator_group", "не меньше 1"),
        ("condition", {}, "expression", "обязательное поле"),
        ("end", {"message": "пока"}, "message", "такого поля нет"),
    ],
)
def test_config_values_of_the_wrong_type_or_out_of_range(
    node_type: str, data: dict[str, Any], field: str, fragment: str
) -> None:
    problem = only(config_problems(node_type, **data), "invalid_config")
    names_node(problem, "n")
    assert problem.field == field
    assert fragment in problem.message_ru


def test_config_problem_names_the_field_by_its_form_title() -> None:
    problem = only(config_problems("search", top_k=50, label="Поиск по доставке"), "invalid_config")
    assert (
        problem.message_ru
        == "Узел «Поиск по доставке» (n): поле «Сколько документов»: значение должно быть не больше 20"
    )


def test_every_bad_field_of_a_node_is_reported() -> None:
    problems = config_problems("confidence", answer_threshold=2, max_clarifications="два", colour="red")
    assert codes(problems) == ["invalid_config"] * 3
    assert [p.field for p in problems] == ["answer_threshold", "max_clarifications", "colour"]


def test_a_required_field_with_a_bad_value_is_not_also_reported_missing() -> None:
    problems = config_problems("condition", expression=42)
    assert [(p.code, p.field) for p in problems] == [("invalid_config", "expression")]


def test_clarify_threshold_above_answer_threshold() -> None:
    problem = only(config_problems("confidence", answer_threshold=0.4, clarify_threshold=0.5), "threshold_order")
    names_node(problem, "n")
    assert problem.field == "clarify_threshold"
    assert "0.5" in problem.message_ru and "0.4" in problem.message_ru
    assert config_problems("confidence", answer_threshold=0.5, clarify_threshold=0.5) == []


def test_condition_expression_that_does_not_parse() -> None:
    problem = only(config_problems("condition", expression='intent in ["price", "order"'), "invalid_expression")
    names_node(problem, "n")
    assert problem.field == "expression"
    assert "позиция 28" in problem.message_ru


def test_duplicate_intent_ids() -> None:
    intents = [{"id": "price", "description": "цена"}, {"id": "price", "description": "стоимость"}]
    problem = only(config_problems("intent", intents=intents), "duplicate_intent")
    names_node(problem, "n")
    assert "price" in problem.message_ru


def test_handoff_intents_that_no_intent_node_produces_are_a_warning() -> None:
    custom = [{"id": "price", "description": "цена"}, {"id": "human", "description": "просит человека"}]
    s = scenario(
        [
            node("start", "start"),
            node("intent", "intent", intents=custom),
            node("conf", "confidence", handoff_intents=["human", "complaint"]),
            node("end", "end"),
        ],
        [
            edge("start", "intent"),
            edge("intent", "conf"),
            *(edge("conf", "end", h) for h in EXPECTED_OUTPUTS["confidence"]),
        ],
    )
    problem = only(validate(s), "unknown_intent")
    names_node(problem, "conf")
    assert problem.severity == "warning"
    assert "«complaint»" in problem.message_ru and "«human»" not in problem.message_ru

    default_intents = scenario(
        [node("start", "start"), node("intent", "intent"), node("conf", "confidence"), node("end", "end")],
        [
            edge("start", "intent"),
            edge("intent", "conf"),
            *(edge("conf", "end", h) for h in EXPECTED_OUTPUTS["confidence"]),
        ],
    )
    assert validate(default_intents) == []  # the 13 defaults include both


# --------------------------------------------------------------------------------------------------
# All at once, and raising
# --------------------------------------------------------------------------------------------------


def broken() -> Scenario:
    return scenario(
        [
            node("start", "start"),
            node("start2", "start"),
            node("conf", "confidence", answer_threshold=0.3, clarify_threshold=0.5),
            node("cond", "condition", expression="intent =="),
            node("x", "whatever"),
            node("end", "end"),
            node("end", "end"),
            node("stray", "search", top_k=99),
        ],
        [
            edge("start", "conf", edge_id="e1"),
            edge("start2", "cond", edge_id="e1"),
            edge("conf", "cond", "answer"),
            edge("cond", "end", "true"),
            edge("cond", "end", "maybe"),
            edge("end", "start", edge_id="loop"),
            edge("stray", "nowhere"),
        ],
    )


def test_every_problem_is_reported_at_once() -> None:
    problems = validate(broken())
    assert set(codes(problems)) >= {
        "unknown_type",
        "multiple_starts",
        "duplicate_node_id",
        "duplicate_edge_id",
        "edge_target_missing",
        "unknown_handle",
        "edge_into_start",
        "edge_from_terminal",
        "unconnected_output",
        "unreachable",
        "invalid_config",
        "threshold_order",
        "invalid_expression",
    }
    # Msgspec round-trip: problems are what the API returns.
    assert msgspec.json.decode(msgspec.json.encode(problems), type=list[Problem]) == problems


def test_validate_or_raise_lists_every_error() -> None:
    problems = validate(broken())
    with pytest.raises(InvalidInput) as caught:
        validate_or_raise(broken())
    error = caught.value
    assert isinstance(error, InvalidScenario)
    assert error.status_code == 400
    assert error.problems == problems
    for p in problems:
        if p.severity == "error":
            assert p.message_ru in str(error)


# --------------------------------------------------------------------------------------------------
# The default scenario
# --------------------------------------------------------------------------------------------------


def default_scenario() -> Scenario:
    return decode_scenario(DEFAULT_SCENARIO.read_bytes())


def test_default_scenario_is_valid() -> None:
    s = default_scenario()
    assert (s.id, s.name, s.version) == ("default", "Основной сценарий", 1)
    assert validate(s) == []
    assert CYRILLIC.search(s.description)


def test_default_scenario_hands_people_and_complaints_to_a_manager() -> None:
    s = default_scenario()
    by_id = {n.id: n for n in s.nodes}
    (confidence,) = [n for n in s.nodes if n.type == "confidence"]
    config = NODE_TYPES["confidence"].decode_config(confidence.data)
    assert isinstance(config, ConfidenceConfig)
    assert {"human", "complaint"} <= set(config.handoff_intents)
    routes = {e.source_handle: by_id[e.target].type for e in s.edges if e.source == confidence.id}
    assert routes == {"answer": "context", "clarify": "end", "handoff": "handoff", "fallback": "handoff"}


def test_default_scenario_is_laid_out_left_to_right() -> None:
    s = default_scenario()
    x = {n.id: n.position.x for n in s.nodes}
    assert all(x[e.source] < x[e.target] for e in s.edges)


# --------------------------------------------------------------------------------------------------
# The node catalogue
# --------------------------------------------------------------------------------------------------

EXPECTED_OUTPUTS = {
    "start": ["out"],
    "intent": ["out"],
    "confidence": ["answer", "clarify", "handoff", "fallback"],
    "context": ["out"],
    "search": ["out"],
    "ai_response": ["out"],
    "condition": ["true", "false"],
    "handoff": [],
    "end": [],
}


def test_node_types_and_their_outputs() -> None:
    assert {t: [h.id for h in nt.outputs] for t, nt in NODE_TYPES.items()} == EXPECTED_OUTPUTS
    for node_type in NODE_TYPES.values():
        # Start and End only mark the path; every other type does something when it runs.
        assert (node_type.run is None) == (node_type.type in ("start", "end"))
        if node_type.fallback is not None:
            fallback = node_type.handle(node_type.fallback)
            assert fallback is not None and fallback.required


def _properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{d}.{name}": p for d, spec in schema["$defs"].items() for name, p in spec["properties"].items()}


def test_node_types_schema_describes_all_nine_in_russian() -> None:
    described = json.loads(json.dumps(node_types_schema(), ensure_ascii=False))  # JSON-able as it is
    types = {t["type"]: t for t in described["node_types"]}
    assert list(types) == list(EXPECTED_OUTPUTS)
    category_ids = {c["id"] for c in described["categories"]}
    for entry in types.values():
        assert CYRILLIC.search(entry["title"]) and CYRILLIC.search(entry["description"])
        assert entry["category"] in category_ids
        assert re.fullmatch(r"#[0-9a-f]{6}", entry["color"])
        assert all(CYRILLIC.search(o["title"]) for o in entry["outputs"])
        schema = entry["config_schema"]
        assert schema["$ref"].startswith("#/$defs/")
        for name, prop in _properties(schema).items():
            assert CYRILLIC.search(prop.get("title", "")), name
            assert CYRILLIC.search(prop.get("description", "")), name
    assert all(CYRILLIC.search(c["title"]) for c in described["categories"])
    assert types["start"]["entry"] and types["end"]["terminal"] and types["handoff"]["terminal"]


@pytest.mark.parametrize(
    ("node_type", "field", "minimum", "maximum"),
    [
        ("intent", "temperature", 0, 2),
        ("intent", "max_tokens", 1, 4000),
        ("confidence", "answer_threshold", 0, 1),
        ("confidence", "clarify_threshold", 0, 1),
        ("confidence", "ambiguity_margin", 0, 1),
        ("confidence", "intent_weight", 0, 1),
        ("confidence", "max_clarifications", 0, 5),
        ("context", "history_length", 0, 50),
        ("search", "top_k", 1, 20),
        ("search", "min_score", 0, 1),
        ("ai_response", "temperature", 0, 2),
        ("ai_response", "max_tokens", 1, 4000),
        ("ai_response", "max_reply_chars", 50, 1000),
    ],
)
def test_config_schemas_carry_the_bounds(node_type: str, field: str, minimum: float, maximum: float) -> None:
    config = NODE_TYPES[node_type].config
    prop = _properties(NODE_TYPES[node_type].describe()["config_schema"])[f"{config.__name__}.{field}"]
    assert (prop["minimum"], prop["maximum"]) == (minimum, maximum)
    assert "default" in prop


def test_ui_hints_in_the_schemas() -> None:
    def prop(node_type: str, field: str) -> dict[str, Any]:
        config = NODE_TYPES[node_type].config
        return _properties(NODE_TYPES[node_type].describe()["config_schema"])[f"{config.__name__}.{field}"]

    model = prop("intent", "model")
    assert model["x-widget"] == "combobox"
    assert model["x-suggestions"] == ["openai/gpt-5.1", "openai/gpt-5", "openai/gpt-5-mini", "openai/gpt-5-nano"]
    assert "enum" not in model  # any model id is allowed
    assert prop("ai_response", "system_prompt")["x-widget"] == "textarea"
    assert prop("condition", "expression")["x-widget"] == "expression"
    assert prop("search", "categories")["x-widget"] == "kb-categories"
    assert prop("confidence", "handoff_intents")["x-widget"] == "intents"


def test_config_defaults() -> None:
    intent = IntentConfig()
    assert intent.model == "openai/gpt-5-mini"
    assert NODE_TYPES["intent"].decode_config({"model": "anthropic/claude-sonnet-4.5"}).model  # any id
    confidence = ConfidenceConfig()
    assert (confidence.answer_threshold, confidence.clarify_threshold) == (0.6, 0.35)
    assert (confidence.ambiguity_margin, confidence.max_clarifications, confidence.intent_weight) == (0.1, 2, 0.5)
    assert confidence.handoff_intents == ("human", "complaint")
    assert CYRILLIC.search(confidence.clarify_message)
    assert HandoffConfig().message == "Передаю ваш вопрос менеджеру, он ответит в ближайшее время."
    assert HandoffConfig().operator_group is None
    reply = AIResponseConfig()
    assert reply.max_reply_chars == 1000
    assert reply.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert '"handoff"' in DEFAULT_SYSTEM_PROMPT and "1000 символов" in DEFAULT_SYSTEM_PROMPT


def test_default_intents_are_the_offline_classifiers() -> None:
    ids = [i.id for i in IntentConfig().effective_intents()]
    assert len(ids) == 13
    assert set(ids) == {intent for _, intent in load_examples()}
    assert all(CYRILLIC.search(i.description) for i in DEFAULT_INTENTS)
