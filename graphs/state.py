"""The state a scenario graph runs on: plain JSON types only, so traces, checkpoints and replays lose nothing.

What each key means and which node writes it is tabled in :mod:`graphs.nodes`. `trace` is the one key with a
reducer: every node appends its own entry, and the Workflow Tester streams them.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class TraceEntry(TypedDict, total=False):
    node: str  # the node's id in the scenario
    type: str
    label: str
    input: dict[str, Any]  # a summary of what the node read
    output: dict[str, Any]  # the state update it made
    branch: str | None  # the output handle taken (multi-output nodes)
    ms: float
    model: str | None
    tokens_in: int
    tokens_out: int
    engine: str | None
    error: str | None


class TurnState(TypedDict, total=False):
    # Inputs, put in by the chat session, the tester or replay.
    message: str
    history: list[dict[str, Any]]  # [{role: buyer|bot|operator, text, at}], oldest first
    item: dict[str, Any] | None  # {id, title, price, url}
    buyer: dict[str, Any] | None  # {name}
    clarify_count: int
    # Written by the nodes.
    intent: str
    intent_confidence: float
    intents_ranked: list[dict[str, Any]]
    confidence: float
    route: str
    context: dict[str, Any]
    documents: list[dict[str, Any]]
    retrieval_score: float
    reply: str
    handoff: bool
    operator_group: str | None
    engine: str
    trace: Annotated[list[TraceEntry], operator.add]
