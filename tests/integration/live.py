"""The live path assembled for tests: the Avito sandbox, the app (with Socket.io and the live path) on a real
port, the sandbox's accounts connected to it, and a Socket.io client that records events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import socketio

from core.avito.connect import Connected
from core.avito.demo import connect_sandbox
from core.avito.sandbox import Sandbox
from core.settings import Settings


async def eventually(check: Callable[[], Any], within: float = 10.0, what: str = "the condition") -> Any:
    """Polls a check (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {within} s")
        await asyncio.sleep(0.03)


async def connect_sandbox_accounts(pool: asyncpg.Pool, settings: Settings, sandbox: Sandbox) -> list[Connected]:
    return await connect_sandbox(pool, settings, sandbox)


def replies_in(sandbox: Sandbox, chat_id: str, user_id: int) -> list[dict[str, Any]]:
    """The account's own messages in a sandbox chat (what the bot sent), oldest first."""
    return [m for m in sandbox.state.chat_history(chat_id) if m["author_id"] == user_id]


class Listener:
    """A python-socketio client logged in as a user: every event it receives, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.client = socketio.AsyncClient(reconnection=False)

        @self.client.on("*")
        async def any_event(name: str, data: Any) -> None:
            self.events.append((name, data))

    async def connect(self, base_url: str, login: str, password: str) -> None:
        async with httpx.AsyncClient(base_url=base_url) as http:
            answer = await http.post("/api/v1/auth/login", json={"login": login, "password": password})
            answer.raise_for_status()
            cookie = answer.cookies["avibot_session"]
        await self.client.connect(
            base_url, headers={"Cookie": f"avibot_session={cookie}"}, transports=["websocket"], wait_timeout=10
        )

    def named(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]

    async def close(self) -> None:
        await self.client.disconnect()
