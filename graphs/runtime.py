"""What nodes need besides the state and their config: the knowledge base and, with a key, a language model.

The compiled graph is shared by every chat; the runtime is per call, handed in through LangGraph's
`config["configurable"]["runtime"]`, so one graph serves the live bot, the tester and replay alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from graphs.llm import SupportsComplete
from graphs.retrieval import Hit

Engine = Literal["offline", "llm"]
# `KnowledgeBase.search`-shaped: (query, *, top_k, categories, item_title, item_id) -> hits.
Searcher = Callable[..., Awaitable[Sequence[Hit]]]


@dataclass(frozen=True, slots=True)
class Runtime:
    search: Searcher | None = None  # None: Search nodes find nothing (a scenario tested without a base)
    llm: SupportsComplete | None = None  # None: the offline engine

    @property
    def engine(self) -> Engine:
        return "llm" if self.llm is not None else "offline"


def runtime_of(config: Any) -> Runtime:
    """The Runtime a graph call was given (an empty offline one when none was)."""
    configurable = (config or {}).get("configurable", {}) if isinstance(config, dict) else {}
    runtime = configurable.get("runtime")
    return runtime if isinstance(runtime, Runtime) else Runtime()
