"""Scenarios for the editor: node palette, drafts, validation, publishing, versions and the Workflow Tester."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, JSONBody, PathParameter
from litestar.response import Stream

from api.auth import admin_only
from api.deps import DbPool
from core import scenarios
from core.errors import InvalidInput
from graphs.compiler import TurnInput, TurnResult, compile_scenario, stream_turn
from graphs.nodes import node_types_schema
from graphs.runtime import Runtime
from graphs.spec import Problem, Scenario, decode_scenario, validate


class Draft(msgspec.Struct, frozen=True):
    scenario: dict[str, Any]
    problems: list[Problem]


class PublishIn(msgspec.Struct, frozen=True):
    note: str = ""


class TestMessage(msgspec.Struct, frozen=True):
    author: Literal["client", "bot", "operator"]
    text: str


class TestIn(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation to run: the last client message gets a bot turn, the messages before it are its history.

    `version`: a published version to run; omitted, the saved draft; `draft` runs the editor's unsaved JSON."""

    messages: list[TestMessage]
    item: dict[str, Any] | None = None
    buyer: dict[str, Any] | None = None
    version: int | None = None
    draft: dict[str, Any] | None = None
    engine: Literal["auto", "offline", "llm"] = "auto"


def _draft(scenario: Scenario) -> Draft:
    return Draft(scenario=msgspec.to_builtins(scenario), problems=validate(scenario))


def _decode(data: dict[str, Any]) -> Scenario:
    try:
        return decode_scenario(data)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"Сценарий не читается: {exc}. Сохраните его из редактора заново.") from None


def turn_input(data: TestIn) -> TurnInput:
    roles = {"client": "buyer", "bot": "bot", "operator": "operator"}
    last = next((i for i in range(len(data.messages) - 1, -1, -1) if data.messages[i].author == "client"), None)
    if last is None or not data.messages[last].text.strip():
        raise InvalidInput("Добавьте хотя бы одно сообщение покупателя: бот отвечает на последнее из них.")
    history = [{"role": roles[m.author], "text": m.text} for m in data.messages[:last]]
    return TurnInput(message=data.messages[last].text, history=history, item=data.item, buyer=data.buyer)


class ScenarioController(Controller):
    path = "/api/v1"
    guards = (admin_only,)
    tags = ("scenarios",)

    @get("/node-types")
    async def node_types(self) -> dict[str, Any]:
        """The palette: every node type with its outputs and its config's JSON schema (titles, bounds, hints)."""
        return node_types_schema()

    @get("/scenarios")
    async def list_scenarios(self, db_pool: DbPool) -> list[scenarios.ScenarioSummary]:
        return await scenarios.list_scenarios(db_pool)

    @post("/scenarios")
    async def create(self, data: JSONBody[dict[str, Any]], db_pool: DbPool) -> Draft:
        return _draft(await scenarios.create(db_pool, _decode(data)))

    @get("/scenarios/{scenario_id:str}")
    async def get_draft(self, scenario_id: FromPath[str], db_pool: DbPool) -> Draft:
        return _draft(await scenarios.get_draft(db_pool, scenario_id))

    @put("/scenarios/{scenario_id:str}")
    async def save_draft(self, scenario_id: FromPath[str], data: JSONBody[dict[str, Any]], db_pool: DbPool) -> Draft:
        """Saves the draft whatever its problems (they are returned); only publishing requires none."""
        return _draft(await scenarios.save_draft(db_pool, scenario_id, _decode(data)))

    @post("/scenarios/{scenario_id:str}/publish")
    async def publish(
        self, request: Request[Any, Any, Any], scenario_id: FromPath[str], data: JSONBody[PublishIn], db_pool: DbPool
    ) -> Draft:
        published = await scenarios.publish(db_pool, scenario_id, note=data.note, user_id=request.user.id)
        return _draft(published)

    @get("/scenarios/{scenario_id:str}/versions")
    async def list_versions(self, scenario_id: FromPath[str], db_pool: DbPool) -> list[scenarios.VersionInfo]:
        return await scenarios.versions(db_pool, scenario_id)

    @get("/scenarios/{scenario_id:str}/versions/{version:int}")
    async def get_version(
        self, scenario_id: FromPath[str], version: Annotated[int, PathParameter(ge=1)], db_pool: DbPool
    ) -> dict[str, Any]:
        return msgspec.to_builtins(await scenarios.get_version(db_pool, scenario_id, version))

    @post("/scenarios/{scenario_id:str}/test")
    async def test(
        self, request: Request[Any, Any, Any], scenario_id: FromPath[str], data: JSONBody[TestIn], db_pool: DbPool
    ) -> Stream:
        """Runs one bot turn without touching Avito and streams it as NDJSON: a `node` event per node as it
        finishes (id, type, input, output, branch, model, tokens, ms), then one `result` event."""
        if data.draft is not None:
            scenario = _decode(data.draft)
        elif data.version is not None:
            scenario = await scenarios.get_version(db_pool, scenario_id, data.version)
        else:
            scenario = await scenarios.get_draft(db_pool, scenario_id)
        compiled = compile_scenario(scenario)  # InvalidScenario (400) lists the problems before anything streams
        state = request.app.state
        if data.engine == "llm" and state.llm is None:
            raise InvalidInput("LLM недоступна: задайте OPENROUTER_API_KEY или выберите офлайн-движок.")
        llm = None if data.engine == "offline" else state.llm
        runtime = Runtime(search=state.knowledge.search, llm=llm)
        turn = turn_input(data)

        async def events() -> AsyncIterator[bytes]:
            async for item in stream_turn(compiled, turn, runtime):
                if isinstance(item, TurnResult):
                    event = {"event": "result", "scenario": item.scenario, "engine": item.engine,
                             "reply": item.reply, "handoff": item.handoff, "error": item.error,
                             "latency_ms": item.latency_ms, "state": item.state}  # fmt: skip
                else:
                    event = {"event": "node", **item}
                yield msgspec.json.encode(event) + b"\n"

        return Stream(events(), media_type="application/x-ndjson")
