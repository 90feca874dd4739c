"""Scenarios compiled to LangGraph and run on the offline engine: routes, trace, confidence rules, failures."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from core.kb.json_import import parse_json
from graphs.compiler import TurnInput, build, compile_scenario, run_turn, stream_turn
from graphs.retrieval import KnowledgeIndex
from graphs.runtime import Runtime
from graphs.spec import InvalidScenario, decode_scenario

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = json.loads((ROOT / "graphs" / "scenarios" / "default.json").read_text())
DEMO = parse_json((ROOT / "core" / "demo" / "kb.json").read_bytes())
INDEX = KnowledgeIndex(
    [{"external_id": a.external_id, "title": a.title, "text": a.text, "tags": a.tags, "category": a.category}
     for a in DEMO.articles]
)  # fmt: skip


async def search(query: str, *, top_k: int, categories: Any, item_title: Any, item_id: Any) -> list[Any]:
    return INDEX.search(query, top_k=top_k, categories=categories, item_title=item_title)


OFFLINE = Runtime(search=search)


def scenario(**changes: Any) -> Any:
    data = copy.deepcopy(DEFAULT)
    data.update(changes)
    return decode_scenario(data)


@pytest.mark.parametrize(
    ("message", "intent", "handoff", "reply_contains", "last_node"),
    [
        ("Здравствуйте!", "greeting", False, "Здравствуйте", "done"),
        ("скока стоит доставка по казани", "delivery", False, "400 ₽", "done"),
        ("можно картой оплатить при получении?", "payment", False, "картой", "done"),
        ("позовите живого человека", "human", True, "менеджеру", "handoff"),
        ("купил неделю назад, цепь слетает постоянно, это безобразие", "complaint", True, "менеджеру", "handoff"),
    ],
)
async def test_default_scenario_offline(
    message: str, intent: str, handoff: bool, reply_contains: str, last_node: str
) -> None:
    result = await run_turn(compile_scenario(scenario()), TurnInput(message=message), OFFLINE)
    assert result.error is None and result.engine == "offline"
    assert result.state["intent"] == intent
    assert result.handoff is handoff
    assert reply_contains in result.reply and len(result.reply) <= 1000
    assert result.trace[0]["node"] == "start" and result.trace[-1]["node"] == last_node
    assert result.scenario == "default@1"


async def test_trace_records_each_node_with_branch_and_timing() -> None:
    entries = [
        e
        async for e in stream_turn(compile_scenario(scenario()), TurnInput(message="доставка в самару есть?"), OFFLINE)
    ]
    *trace, result = entries
    assert [e["node"] for e in trace] == [e["node"] for e in result.trace]
    confidence = next(e for e in trace if e["type"] == "confidence")
    assert confidence["branch"] == "answer" and confidence["input"]["intent"] == "delivery"
    search_entry = next(e for e in trace if e["type"] == "search")
    assert search_entry["output"]["documents"][0]["external_id"] == "d2"
    assert all(e["ms"] >= 0 and e["engine"] in (None, "offline") for e in trace)
    condition = next(e for e in trace if e["node"] == "smalltalk")
    assert condition["branch"] == "false" and condition["output"] == {}


def confidence_config(**data: Any) -> Any:
    nodes = [dict(n) for n in DEFAULT["nodes"]]
    for n in nodes:
        if n["type"] == "confidence":
            n["data"] = {**n.get("data", {}), **data}
    return nodes


async def test_clarify_counts_and_then_hands_off() -> None:
    # Thresholds that make a confident intent "clarify": two clarifications, then a person.
    compiled = compile_scenario(scenario(nodes=confidence_config(answer_threshold=1.0, clarify_threshold=0.0)))
    first = await run_turn(compiled, TurnInput(message="доставка есть?"), OFFLINE)
    assert first.state["route"] == "clarify" and first.state["clarify_count"] == 1 and not first.handoff
    assert first.reply  # the clarify message
    second = await run_turn(compiled, TurnInput(message="доставка есть?", clarify_count=1), OFFLINE)
    assert second.state["clarify_count"] == 2
    third = await run_turn(compiled, TurnInput(message="доставка есть?", clarify_count=2), OFFLINE)
    assert third.state["route"] == "handoff" and third.handoff and third.state["clarify_count"] == 0


async def test_unconnected_route_falls_back() -> None:
    edges = [e for e in DEFAULT["edges"] if not (e["source"] == "confidence" and e["sourceHandle"] == "clarify")]
    nodes = [n for n in confidence_config(answer_threshold=1.0, clarify_threshold=0.0) if n["id"] != "clarify_sent"]
    compiled = compile_scenario(scenario(nodes=nodes, edges=edges))
    result = await run_turn(compiled, TurnInput(message="доставка есть?"), OFFLINE)
    assert result.state["route"] == "fallback" and result.state["clarify_count"] == 0 and result.handoff


async def test_condition_on_the_listing_price() -> None:
    nodes = [dict(n) for n in DEFAULT["nodes"]]
    for n in nodes:
        if n["id"] == "smalltalk":
            n["data"] = {"expression": 'intent in ["price", "order"] and item.price > 10000'}
    compiled = compile_scenario(scenario(nodes=nodes))
    expensive = await run_turn(
        compiled, TurnInput(message="сколько стоит?", item={"id": 1, "title": "Велосипед", "price": 28500}), OFFLINE
    )
    cheap = await run_turn(
        compiled, TurnInput(message="сколько стоит?", item={"id": 2, "title": "Шлем", "price": 2500}), OFFLINE
    )

    def branch(result: Any) -> str:
        return next(e["branch"] for e in result.trace if e["node"] == "smalltalk")

    assert branch(expensive) == "true" and branch(cheap) == "false"


def test_invalid_scenario_is_refused_with_every_problem() -> None:
    broken = scenario(edges=[e for e in DEFAULT["edges"] if e["target"] != "done"])
    with pytest.raises(InvalidScenario) as caught:
        build(broken)
    assert caught.value.problems


def test_compiled_graphs_are_cached_per_version_and_content() -> None:
    assert compile_scenario(scenario()) is compile_scenario(scenario())
    assert compile_scenario(scenario(version=2)) is not compile_scenario(scenario())


async def test_a_failing_node_hands_the_chat_off() -> None:
    async def broken_search(query: str, **_: Any) -> list[Any]:
        raise ConnectionError("knowledge base unreachable")

    result = await run_turn(
        compile_scenario(scenario()), TurnInput(message="доставка есть?"), Runtime(search=broken_search)
    )
    assert result.handoff and result.reply == "" and "knowledge base unreachable" in (result.error or "")
    assert result.trace[-1]["node"] == "smalltalk"  # what ran before the failure is kept


def _without_timing(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in entry.items() if k != "ms"} for entry in trace]


async def _via_langgraph(compiled: Any, turn: TurnInput) -> Any:
    items = [item async for item in stream_turn(compiled, turn, OFFLINE)]
    return items[-1]


@pytest.mark.parametrize("clarify_count", [0, 2])
async def test_run_turn_walks_exactly_the_path_langgraph_takes(clarify_count: int) -> None:
    compiled = compile_scenario(scenario())
    lines = (ROOT / "graphs/offline/intent_examples.jsonl").read_text().splitlines()
    examples = [json.loads(line)["text"] for line in lines][::9]
    item = {"id": 1, "title": "Велосипед горный", "price": 25000}
    routes = set()
    for message in [*examples, "?", "ок", "позовите оператора", "asdfgh"]:
        turn = TurnInput(message=message, item=item, clarify_count=clarify_count)
        walked, streamed = await run_turn(compiled, turn, OFFLINE), await _via_langgraph(compiled, turn)
        assert walked.state == streamed.state, message
        assert _without_timing(walked.trace) == _without_timing(streamed.trace), message
        routes.add(walked.state.get("route"))
    assert len(examples) > 50 and {"answer", "handoff"} <= routes  # the corpus took more than one road


async def test_a_scenario_that_loops_forever_stops_at_the_recursion_limit_in_both_drivers() -> None:
    looping = copy.deepcopy(DEFAULT)
    looping["nodes"].append({"id": "spin", "type": "condition", "position": {"x": 0, "y": 0},
                             "data": {"expression": "true"}})  # fmt: skip
    first = next(edge for edge in looping["edges"] if edge["source"] == "start")
    after_start, first["target"] = first["target"], "spin"
    looping["edges"] += [
        {"id": "spin-true", "source": "spin", "target": "spin", "sourceHandle": "true"},
        {"id": "spin-false", "source": "spin", "target": after_start, "sourceHandle": "false"},
    ]
    compiled = build(decode_scenario(looping))
    walked = await run_turn(compiled, TurnInput(message="привет"), OFFLINE)
    streamed = await _via_langgraph(compiled, TurnInput(message="привет"))
    for result in (walked, streamed):
        assert result.handoff and result.reply == "" and "Recursion" in (result.error or "")
