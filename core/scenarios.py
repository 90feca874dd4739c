"""Scenarios in the database: drafts the editor saves, immutable published versions the bot runs.

Publishing validates the draft, freezes it as version N+1 (the spec stored carries `version: N+1`) and makes it
live. The default scenario ships as `graphs/scenarios/default.json` and is seeded once into the database.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from core.db import queries
from core.errors import Conflict, InvalidInput, NotFound
from graphs.spec import Scenario, decode_scenario, validate_or_raise

DEFAULT_ID = "default"
DEFAULT_FILE = Path(__file__).resolve().parents[1] / "graphs" / "scenarios" / "default.json"

Conn = asyncpg.Connection | asyncpg.Pool


class ScenarioSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str
    published_version: int | None
    versions: int
    updated_at: datetime


class VersionInfo(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    note: str
    created_by: int | None
    created_at: datetime


@cache
def default_scenario() -> Scenario:
    return decode_scenario(DEFAULT_FILE.read_bytes())


def _spec(scenario: Scenario) -> dict[str, Any]:
    return msgspec.to_builtins(scenario)


async def seed_default(pool: asyncpg.Pool) -> bool:
    """Creates and publishes the default scenario unless it exists; True when it did."""
    scenario = default_scenario()
    async with pool.acquire() as conn, conn.transaction():
        if (
            await conn.fetchval(
                queries.scenario_insert, scenario.id, scenario.name, scenario.description, _spec(scenario)
            )
            is None
        ):
            return False
        await conn.execute(queries.scenario_insert_version, scenario.id, scenario.version, _spec(scenario), "", None)
        await conn.execute(queries.scenario_set_published, scenario.id, scenario.version)
    return True


async def list_scenarios(conn: Conn) -> list[ScenarioSummary]:
    return [msgspec.convert(dict(r), ScenarioSummary) for r in await conn.fetch(queries.scenario_list)]


async def get_draft(conn: Conn, scenario_id: str) -> Scenario:
    row = await conn.fetchrow(queries.scenario_get, scenario_id)
    if row is None:
        raise NotFound(f"Сценарий «{scenario_id}» не найден.")
    return decode_scenario(row["draft"])


async def create(pool: asyncpg.Pool, scenario: Scenario) -> Scenario:
    """A new scenario from the editor; its draft may still have problems (they block publishing, not saving)."""
    if (
        await pool.fetchval(queries.scenario_insert, scenario.id, scenario.name, scenario.description, _spec(scenario))
        is None
    ):
        raise Conflict(f"Сценарий с id «{scenario.id}» уже есть: выберите другой id.")
    return scenario


async def save_draft(pool: asyncpg.Pool, scenario_id: str, scenario: Scenario) -> Scenario:
    if scenario.id != scenario_id:
        raise InvalidInput(f"id в теле запроса («{scenario.id}») не совпадает с адресом («{scenario_id}»).")
    if (
        await pool.fetchval(
            queries.scenario_save_draft, scenario_id, scenario.name, scenario.description, _spec(scenario)
        )
        is None
    ):
        raise NotFound(f"Сценарий «{scenario_id}» не найден.")
    return scenario


async def publish(pool: asyncpg.Pool, scenario_id: str, *, note: str = "", user_id: int | None = None) -> Scenario:
    """Validates the draft (InvalidScenario lists every problem) and makes it the next live version."""
    async with pool.acquire() as conn, conn.transaction():
        draft = await get_draft(conn, scenario_id)
        version = await conn.fetchval(queries.scenario_next_version, scenario_id)
        frozen = msgspec.structs.replace(draft, version=version)
        validate_or_raise(frozen)
        await conn.execute(queries.scenario_insert_version, scenario_id, version, _spec(frozen), note, user_id)
        await conn.execute(queries.scenario_set_published, scenario_id, version)
    return frozen


async def get_version(conn: Conn, scenario_id: str, version: int | None = None) -> Scenario:
    """A published version (None: the live one)."""
    if version is None:
        row = await conn.fetchrow(queries.scenario_get, scenario_id)
        if row is None:
            raise NotFound(f"Сценарий «{scenario_id}» не найден.")
        version = row["published_version"]
        if version is None:
            raise NotFound(f"У сценария «{scenario_id}» нет опубликованной версии: опубликуйте его.")
    spec = await conn.fetchval(queries.scenario_get_version, scenario_id, version)
    if spec is None:
        raise NotFound(f"Версии {version} у сценария «{scenario_id}» нет.")
    return decode_scenario(spec)


async def load_ref(conn: Conn, ref: str) -> Scenario:
    """ "id" (its live version) or "id@7" (that version)."""
    scenario_id, _, version = ref.partition("@")
    if version and not version.isdigit():
        raise InvalidInput(f"Версия в «{ref}» должна быть числом, например {scenario_id}@3.")
    return await get_version(conn, scenario_id, int(version) if version else None)


async def versions(conn: Conn, scenario_id: str) -> list[VersionInfo]:
    return [msgspec.convert(dict(r), VersionInfo) for r in await conn.fetch(queries.scenario_versions, scenario_id)]


async def for_account(conn: Conn, account_id: int) -> Scenario:
    """The live version of the scenario assigned to an account (the default one when none is)."""
    return await get_version(conn, await conn.fetchval(queries.scenario_of_account, account_id) or DEFAULT_ID)
