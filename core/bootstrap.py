"""What a database needs before the app serves it: the schema, on first run an admin, the default scenario and
the demo content."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from core import db
from core.migrate import Migration, migrate
from core.scenarios import seed_default
from core.settings import Settings
from core.store.users import count_users, create_user

FIRST_ADMIN_LOGIN = "admin"
DEMO_KB = Path(__file__).parent / "demo" / "kb.json"


@dataclass(frozen=True, slots=True)
class Prepared:
    applied: list[Migration]
    admin_password: str | None  # set only on the run that created the first admin
    demo_articles: int = 0  # demo articles loaded on this run


async def migrate_database(database_url: str) -> list[Migration]:
    conn = await db.connect(database_url)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


async def prepare(database_url: str, settings: Settings, *, demo: bool = True) -> Prepared:
    """Everything `avibot up` does to the database before serving; each step is a no-op the second time."""
    applied = await migrate_database(database_url)
    conn = await db.connect(database_url)
    try:
        password = await _first_admin(conn)
    finally:
        await conn.close()
    if password is not None:
        _keep_password(settings.data_dir, password)
    pool = await db.create_pool(database_url, max_size=2)
    try:
        await seed_default(pool)
        loaded = await _demo_knowledge_base(pool, settings) if demo else 0
    finally:
        await pool.close()
    return Prepared(applied, password, loaded)


async def _first_admin(conn: asyncpg.Connection) -> str | None:
    async with conn.transaction():
        # The lock makes two first runs against one database create one admin, not two.
        await conn.execute("LOCK TABLE users IN EXCLUSIVE MODE")
        if await count_users(conn) > 0:
            return None
        password = secrets.token_urlsafe(12)
        await create_user(conn, FIRST_ADMIN_LOGIN, password, "admin", "Администратор")
        return password


async def _demo_knowledge_base(pool: asyncpg.Pool, settings: Settings) -> int:
    """Loads the demo shop's knowledge base once into an empty knowledge base (never again after)."""
    from core.kb.json_import import parse_json
    from core.kb.search import embedder_for
    from core.kb.store import apply_import

    if await pool.fetchval(db.queries.get_app_state, "demo_kb_loaded") is not None:
        return 0
    loaded = 0
    if await pool.fetchval(db.queries.kb_article_count) == 0:
        report = await apply_import(pool, parse_json(DEMO_KB.read_bytes()), embedder=embedder_for(settings))
        loaded = report.created
    await pool.execute(db.queries.set_app_state, "demo_kb_loaded", True)
    return loaded


def _keep_password(data_dir: Path, password: str) -> None:
    """Also saved (0600) so a `make demo` user who missed the terminal line can still log in."""
    path = data_dir / "initial-admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{FIRST_ADMIN_LOGIN} {password}\n")
