"""Shared fixtures: real PostgreSQL (embedded, one server per session, a fresh database per test), real
Valkey, a local Ray started once, and the Litestar app on a real port.

Set AVIBOT_TEST_DATABASE_URL / AVIBOT_TEST_REDIS_URL to run against external servers instead (the database
user must be allowed to CREATE DATABASE).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from redis import Redis

from core import db
from core.embedded import EmbeddedPostgres, EmbeddedValkey, free_port
from core.migrate import migrate
from core.services import Services
from core.settings import Settings

# The local OpenAI-compatible server that stands in for OpenRouter (tests/llm_server.py).
pytest_plugins = ["tests.llm_fixtures"]

TEMPLATE_DB = "avibot_template"
_db_counter = itertools.count()


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server for the whole test session; the URL points at its maintenance database."""
    if external := os.environ.get("AVIBOT_TEST_DATABASE_URL"):
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def template_url(pg_admin_url: str) -> str:
    """A database with every migration applied, copied (cheaply, by CREATE DATABASE … TEMPLATE) per test."""

    async def build() -> None:
        conn = await asyncpg.connect(pg_admin_url)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
            await conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        finally:
            await conn.close()
        conn = await asyncpg.connect(_with_database(pg_admin_url, TEMPLATE_DB))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(build())
    return _with_database(pg_admin_url, TEMPLATE_DB)


async def _create_database(admin_url: str, template: str | None) -> tuple[str, str]:
    name = f"test_{os.getpid()}_{next(_db_counter)}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    finally:
        await conn.close()
    return name, _with_database(admin_url, name)


async def _drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture
async def empty_database_url(pg_admin_url: str) -> AsyncIterator[str]:
    """A brand-new database with nothing in it (for migration tests)."""
    name, url = await _create_database(pg_admin_url, None)
    yield url
    await _drop_database(pg_admin_url, name)


@pytest.fixture
async def database_url(pg_admin_url: str, template_url: str) -> AsyncIterator[str]:
    """A migrated database of this test's own."""
    name, url = await _create_database(pg_admin_url, TEMPLATE_DB)
    yield url
    await _drop_database(pg_admin_url, name)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def valkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if external := os.environ.get("AVIBOT_TEST_REDIS_URL"):
        yield external
        return
    server = EmbeddedValkey(tmp_path_factory.mktemp("valkey"))
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def redis_url(valkey_server: str) -> str:
    """The session's Valkey, emptied for this test."""
    client = Redis.from_url(valkey_server)
    client.flushall()
    client.close()
    return valkey_server


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A local Ray, started once per session (it takes several seconds)."""
    from actors import cluster

    address = cluster.start(None)
    try:
        yield address
    finally:
        cluster.stop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", secret_key="k" * 40, host="127.0.0.1", port=free_port())


class AppServer:
    """The Litestar app served by uvicorn on a real loopback port, in a thread of the test process."""

    def __init__(self, app: object, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> AppServer:
        self._thread.start()
        deadline = time.monotonic() + 120  # the live path warms up its models before serving
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(15)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


@pytest.fixture
def app_server(settings: Settings, database_url: str, redis_url: str) -> Iterator[AppServer]:
    from api.app import create_app

    app = create_app(settings, Services(database_url, redis_url))
    with AppServer(app, settings.port) as server:
        yield server


class Session:
    """A logged-in browser: the session cookie in the client, the CSRF token sent on every change."""

    def __init__(self, server: AppServer, login: str, password: str) -> None:
        self.client = server.client()
        response = self.client.post("/api/v1/auth/login", json={"login": login, "password": password})
        assert response.status_code == 200, response.text
        self.csrf = response.json()["csrf_token"]
        self.client.headers["x-csrf-token"] = self.csrf

    def __getattr__(self, name: str) -> object:  # get, post, put, patch, delete…
        return getattr(self.client, name)


@pytest.fixture
async def admin(app_server: AppServer, pool: asyncpg.Pool) -> AsyncIterator[Session]:
    from core.store.users import create_user

    await create_user(pool, "boss", "boss-password", "admin", "Начальник")
    session = Session(app_server, "boss", "boss-password")
    yield session
    session.client.close()
