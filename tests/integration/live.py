"""The live path assembled for tests: the Avito sandbox, the app (with Socket.io and the live path) on a real
port, the sandbox's accounts connected to it, and a Socket.io client that records events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import socketio

from api.app import LiveOptions, create_asgi
from core.avito.connect import Connected
from core.avito.demo import connect_sandbox
from core.avito.sandbox import Sandbox
from core.bootstrap import prepare
from core.services import Services
from core.settings import Settings
from core.store.users import create_user
from tests.conftest import AppServer


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


class Stack:
    def __init__(
        self, server: AppServer, sandbox: Sandbox, pool: asyncpg.Pool, accounts: list[Connected], app: Any
    ) -> None:
        self.app = app  # the Litestar app (its state holds the session hosts)
        self.server = server
        self.sandbox = sandbox
        self.pool = pool
        self.accounts = accounts

    @property
    def user_id(self) -> int:
        return self.accounts[0].account.avito_user_id

    def inject(self, text: str, chat_id: str | None = None, **kwargs: Any) -> tuple[str, str]:
        return self.sandbox.state.inject(self.user_id, text=text, chat_id=chat_id, **kwargs)

    async def replies(self, chat_id: str, count: int = 1, within: float = 10.0) -> list[dict[str, Any]]:
        return await eventually(
            lambda: (found := replies_in(self.sandbox, chat_id, self.user_id)) and len(found) >= count and found,
            within,
            f"{count} bot replies in {chat_id}",
        )

    async def chat(self, avito_chat_id: str) -> asyncpg.Record:
        return await self.pool.fetchrow("SELECT * FROM chats WHERE avito_chat_id = $1", avito_chat_id)

    async def settled(self, avito_chat_id: str) -> None:
        """Every inbox row of the chat processed."""
        await eventually(
            lambda: self.pool.fetchval(
                "SELECT count(*) = 0 FROM inbox i JOIN chats c ON c.id = i.chat_id "
                "WHERE c.avito_chat_id = $1 AND i.processed_at IS NULL",
                avito_chat_id,
            ),
            10,
            "inbox processed",
        )


async def build_stack(
    settings: Settings, database_url: str, redis_url: str, pool: asyncpg.Pool, sandbox: Sandbox, live: LiveOptions
) -> AsyncIterator[Stack]:
    """The app with the live path on a real port, the sandbox's shops connected, an admin «boss»."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await prepare(database_url, settings)  # as `avibot up` does: default scenario, demo knowledge base
    app = create_asgi(settings, Services(database_url, redis_url), live=live)
    with AppServer(app, settings.port) as server:
        accounts = await connect_sandbox_accounts(pool, settings, sandbox)
        await create_user(pool, "boss", "boss-password", "admin", "Начальник")
        yield Stack(server, sandbox, pool, accounts, app.other_asgi_app)


class Browser:
    """A logged-in user of the messenger: cookie and CSRF header, as the browser app sends them."""

    def __init__(self, url: str, login: str, password: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=15)
        answer = self.http.post("/api/v1/auth/login", json={"login": login, "password": password})
        assert answer.status_code == 200, answer.text
        self.http.headers["x-csrf-token"] = answer.json()["csrf_token"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.http, name)
