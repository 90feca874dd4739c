"""Fixtures only the integration tests use (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import pytest

from api.app import LiveOptions
from core.avito.sandbox import Sandbox, SandboxConfig
from core.settings import Settings
from tests.integration.live import Browser, Stack, build_stack
from tests.mariadb import ocstore_database


@pytest.fixture(scope="session")
def mariadb_dsn() -> Iterator[str]:
    """A real MariaDB on loopback holding the test ocStore shop (tests/data/ocstore), for the whole session."""
    with ocstore_database() as dsn:
        yield dsn


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The Avito sandbox the live-path tests talk to (a test file may override it with another world)."""
    with Sandbox(SandboxConfig(seed=7, history_chats=0, webhook_retry_backoff=0.05, webhook_timeout=1.0)) as server:
        yield server


@pytest.fixture
async def stack(
    settings: Settings, database_url: str, redis_url: str, pool: asyncpg.Pool, sandbox: Sandbox
) -> AsyncIterator[Stack]:
    """The app with the live path in this process, the sandbox's shops connected, an admin «boss»."""
    async for built in build_stack(settings, database_url, redis_url, pool, sandbox, LiveOptions(in_process=True)):
        yield built


@pytest.fixture
def login(stack: Stack) -> Iterator[Callable[[str, str], Browser]]:
    """Logs a user in to the stack's app; every browser it opened is closed after the test."""
    opened: list[Browser] = []

    def open_browser(user: str, password: str) -> Browser:
        opened.append(Browser(stack.server.url, user, password))
        return opened[-1]

    yield open_browser
    for browser in opened:
        browser.http.close()
