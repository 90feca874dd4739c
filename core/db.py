"""The asyncpg pool and the named SQL queries in `core/sql/*.sql`.

Queries are written in .sql files as

    -- name: get_user_by_login
    -- The active user with this login, case-insensitive.
    SELECT ...

loaded once and called by name (`queries.get_user_by_login`), so SQL is read and reviewed as SQL and never
assembled from strings at run time.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import asyncpg
import msgspec
from pgvector.asyncpg import register_vector

from core.errors import ServiceError

SQL_DIR = Path(__file__).parent / "sql"
_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class Queries:
    """Named queries, attribute access by name; an unknown name fails loudly at first use."""

    def __init__(self, texts: dict[str, str]) -> None:
        self._texts = texts

    def __getattr__(self, name: str) -> str:
        try:
            return self._texts[name]
        except KeyError:
            raise AttributeError(f"no SQL query named {name!r} in {SQL_DIR}") from None

    def names(self) -> list[str]:
        return sorted(self._texts)


def parse_queries(text: str, source: str) -> dict[str, str]:
    found: dict[str, str] = {}
    matches = list(_NAME.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = "\n".join(
            line for line in text[match.end() : end].strip().splitlines() if not line.lstrip().startswith("--")
        ).strip()
        name = match.group(1)
        if not body:
            raise ValueError(f"{source}: query {name!r} has no SQL")
        if name in found:
            raise ValueError(f"{source}: query {name!r} is defined twice")
        found[name] = body
    return found


@cache
def load_queries() -> Queries:
    texts: dict[str, str] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        for name, body in parse_queries(path.read_text(), path.name).items():
            if name in texts:
                raise ValueError(f"{path.name}: query {name!r} is also defined in another file")
            texts[name] = body
    return Queries(texts)


queries = load_queries()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pool's `reset` that sends nothing."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    await register_vector(conn)
    await conn.set_type_codec("jsonb", encoder=_json_dumps, decoder=_json_loads, schema="pg_catalog")


def _json_dumps(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _json_loads(value: str) -> object:
    return msgspec.json.decode(value)


async def connect(url: str, connect_timeout: float = 10.0) -> asyncpg.Connection:
    """One plain connection (migrations, CLI); errors become a ServiceError that names the server."""
    try:
        return await asyncpg.connect(url, timeout=connect_timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ServiceError(f"Cannot connect to PostgreSQL at {redact(url)}: {exc}") from None


async def create_pool(url: str, min_size: int = 1, max_size: int = 10, *, reset: bool = True) -> asyncpg.Pool:
    """The app's pool, with pgvector and JSON codecs on every connection. Run migrations first.

    ``reset=False``: a released connection is not reset (asyncpg's RESET ALL, UNLISTEN, CLOSE ALL, advisory
    unlock: a round trip per use) — only for callers that never leave session state behind; an open transaction
    is still rolled back."""
    try:
        return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=_init_connection,
                                         reset=None if reset else _keep_session)  # fmt: skip
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise ServiceError(f"Cannot connect to PostgreSQL at {redact(url)}: {exc}") from None


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
