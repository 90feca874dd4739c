"""Scenario (the editor's JSON) → a compiled LangGraph `StateGraph`, cached per (scenario, version).

Every node becomes a LangGraph node that runs the type's `run`, then appends one trace entry (what it read,
what it wrote, the output it took, time, model and tokens). A node with several outputs is followed by a router
that reads the branch from that trace entry, so the branch the trace shows is by construction the branch taken.
Graphs are compiled once and shared: the per-call runtime (knowledge base, model) comes in through the config.

Two drivers run the same compiled nodes and routers. `stream_turn` drives the LangGraph graph (the Workflow
Tester's stream). `run_turn` — the live bot and replay — walks the identical node functions and edges itself:
LangGraph's per-step channel and checkpoint machinery cost ~7 ms of a ~9 ms offline turn here, which capped replay
at a third of its goal, and a turn needs none of it (no checkpoints, no parallel branches: exactly one node runs
at a time). `tests/unit/test_compiler.py` checks that both drivers give the same state and trace.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.nodes import NODE_TYPES, NodeCall, NodeType, Step
from graphs.runtime import Runtime, runtime_of
from graphs.spec import Scenario, validate_or_raise
from graphs.state import TraceEntry, TurnState

# A turn visits each node at most a few times; a runaway loop fails fast instead of spinning.
RECURSION_LIMIT = 50
_CACHE_SIZE = 64

# What each node type reads, for the trace's "input" summary.
_READS: dict[str, tuple[str, ...]] = {
    "intent": ("message",),
    "confidence": ("intent", "intent_confidence", "retrieval_score", "clarify_count"),
    "context": ("history", "item", "buyer"),
    "search": ("message", "item"),
    "ai_response": ("message", "intent", "documents"),
    "condition": (),
    "handoff": (),
}


NodeFunction = Callable[[dict[str, Any], Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class _Step:
    """One node as `run_turn` walks it: the very function LangGraph runs, and where to go after it."""

    run: NodeFunction
    next: str | None = None  # the one successor of a single-output node
    route: Callable[[dict[str, Any]], str] | None = None  # multi-output nodes: the router → handle
    targets: dict[str, str] = field(default_factory=dict)  # handle → node id, for `route`
    terminal: bool = False


@dataclass(frozen=True)
class CompiledScenario:
    scenario_id: str
    version: int
    graph: CompiledStateGraph
    label: str = field(default="")
    entry: str = ""
    steps: dict[str, _Step] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.scenario_id}@{self.version}"


def _summary(value: Any) -> Any:
    """Long texts and lists shortened so a trace stays readable and small."""
    if isinstance(value, str) and len(value) > 300:
        return value[:300] + "…"
    if isinstance(value, list) and len(value) > 10:
        return [*value[:10], f"… ещё {len(value) - 10}"]
    return value


def _node_function(node_id: str, node_type: NodeType, node_config: Any, label: str, connected: frozenset[str]):  # type: ignore[no-untyped-def]
    # LangGraph passes the call's RunnableConfig to a parameter named exactly `config`.
    async def run(state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        started = time.perf_counter()
        if node_type.run is None:  # Start and End only mark the path
            step = Step({})
        else:
            step = await node_type.run(state, node_config, NodeCall(runtime_of(config), connected))
        entry: TraceEntry = {
            "node": node_id,
            "type": node_type.type,
            "label": label or node_type.title,
            "input": {key: _summary(state.get(key)) for key in _READS.get(node_type.type, ()) if key in state},
            "output": {key: _summary(value) for key, value in step.update.items()},
            "branch": step.branch,
            "ms": round((time.perf_counter() - started) * 1000, 2),
            "model": step.model,
            "tokens_in": step.tokens_in,
            "tokens_out": step.tokens_out,
            "engine": step.engine,
        }
        return {**step.update, "trace": [entry]}

    return run


def _router(node_id: str, outputs: dict[str, str]) -> Callable[[dict[str, Any]], str]:
    def route(state: dict[str, Any]) -> str:
        entry = state["trace"][-1]
        branch = entry.get("branch")
        if entry.get("node") != node_id or branch not in outputs:
            raise RuntimeError(f"node {node_id!r} took output {branch!r}, which has no edge")
        return branch  # type: ignore[return-value]

    return route


def build(scenario: Scenario) -> CompiledScenario:
    """Validates (raising InvalidScenario with every problem) and compiles."""
    validate_or_raise(scenario)
    builder = StateGraph(TurnState)
    nodes = {n.id: n for n in scenario.nodes}
    outgoing: dict[str, dict[str, str]] = {n.id: {} for n in scenario.nodes}
    for edge in scenario.edges:
        handle = NODE_TYPES[nodes[edge.source].type].handle(edge.source_handle)
        assert handle is not None  # validation guarantees it
        outgoing[edge.source][handle.id] = edge.target

    entry = ""
    steps: dict[str, _Step] = {}
    for node in scenario.nodes:
        node_type = NODE_TYPES[node.type]
        config = node_type.decode_config(node.data)
        function = _node_function(node.id, node_type, config, config.label, frozenset(outgoing[node.id]))
        builder.add_node(node.id, function)
        if node_type.entry:
            builder.add_edge(START, node.id)
            entry = node.id
        targets = outgoing[node.id]
        if node_type.terminal:
            builder.add_edge(node.id, END)
            steps[node.id] = _Step(function, terminal=True)
        elif len(node_type.outputs) == 1:
            builder.add_edge(node.id, targets[node_type.outputs[0].id])
            steps[node.id] = _Step(function, next=targets[node_type.outputs[0].id])
        else:
            router = _router(node.id, targets)
            builder.add_conditional_edges(node.id, router, targets)  # type: ignore[arg-type]
            steps[node.id] = _Step(function, route=router, targets=targets)
    return CompiledScenario(scenario.id, scenario.version, builder.compile(), scenario.name, entry, steps)


_cache: dict[tuple[str, int, str], CompiledScenario] = {}


def compile_scenario(scenario: Scenario) -> CompiledScenario:
    """`build`, cached. The key includes a hash of the spec, so an edited draft never reuses a stale graph while a
    published version (immutable) compiles once per process."""
    digest = hashlib.sha256(msgspec.json.encode(scenario)).hexdigest()
    key = (scenario.id, scenario.version, digest)
    if (compiled := _cache.get(key)) is None:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        compiled = _cache[key] = build(scenario)
    return compiled


# --- running a turn -----------------------------------------------------------------------------------------------


class TurnInput(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    history: list[dict[str, Any]] = []
    item: dict[str, Any] | None = None
    buyer: dict[str, Any] | None = None
    clarify_count: int = 0


class TurnResult(msgspec.Struct, frozen=True, kw_only=True):
    scenario: str  # id@version
    engine: str
    state: dict[str, Any]
    trace: list[dict[str, Any]]
    latency_ms: float
    error: str | None = None  # a node failed (e.g. the model did not answer); the turn then hands off

    @property
    def reply(self) -> str:
        return self.state.get("reply", "")

    @property
    def handoff(self) -> bool:
        return bool(self.state.get("handoff"))


def _config(runtime: Runtime) -> dict[str, Any]:
    return {"configurable": {"runtime": runtime}, "recursion_limit": RECURSION_LIMIT}


async def stream_turn(
    compiled: CompiledScenario, turn: TurnInput, runtime: Runtime
) -> AsyncIterator[TraceEntry | TurnResult]:
    """Yields each node's trace entry as it finishes, then the TurnResult (the Workflow Tester streams these)."""
    started = time.perf_counter()
    state: dict[str, Any] = msgspec.to_builtins(turn)
    trace: list[dict[str, Any]] = []
    error = None
    try:
        async for update in compiled.graph.astream(dict(state), _config(runtime), stream_mode="updates"):
            for delta in update.values():
                if not delta:
                    continue
                entries = delta.get("trace", [])
                state.update({k: v for k, v in delta.items() if k != "trace"})
                for entry in entries:
                    trace.append(entry)
                    yield entry
    except Exception as exc:  # a failing node must not leave the buyer unanswered: the turn hands off
        error = f"{type(exc).__name__}: {exc}"
        state.update({"handoff": True, "reply": ""})
    state["trace"] = trace
    yield TurnResult(
        scenario=compiled.ref,
        engine=runtime.engine,
        state={k: v for k, v in state.items() if k != "trace"},
        trace=trace,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        error=error,
    )


class RecursionLimitExceeded(RuntimeError):
    """A turn visited more nodes than RECURSION_LIMIT (a loop in the scenario that never ends)."""


async def _walk(compiled: CompiledScenario, state: dict[str, Any], config: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs the turn node by node as LangGraph would — same functions, same routers, one node at a time — updating
    ``state`` in place (so a node's failure keeps what the nodes before it wrote) and returning the trace."""
    trace: list[dict[str, Any]] = []
    state["trace"] = trace
    node_id = compiled.entry
    for _ in range(RECURSION_LIMIT):
        step = compiled.steps[node_id]
        delta = await step.run(state, config)
        trace.extend(delta.pop("trace", ()))
        state.update(delta)
        if step.terminal:
            return trace
        if step.route is not None:
            node_id = step.targets[step.route(state)]
        else:
            assert step.next is not None
            node_id = step.next
    raise RecursionLimitExceeded(f"the turn passed {RECURSION_LIMIT} nodes without reaching End or Handoff")


async def run_turn(compiled: CompiledScenario, turn: TurnInput, runtime: Runtime) -> TurnResult:
    """One turn, without streaming: what the live bot and replay call."""
    started = time.perf_counter()
    state: dict[str, Any] = msgspec.to_builtins(turn)
    error = None
    try:
        await _walk(compiled, state, _config(runtime))
    except Exception as exc:  # as in stream_turn: a failing node hands the chat off
        error = f"{type(exc).__name__}: {exc}"
        state.update({"handoff": True, "reply": ""})
    trace = state.pop("trace", [])
    return TurnResult(
        scenario=compiled.ref,
        engine=runtime.engine,
        state=state,
        trace=trace,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
        error=error,
    )
