"""Every migration applied to an empty database yields the schema the code expects."""

from pathlib import Path

import asyncpg
import pytest

from core.db import load_queries
from core.errors import ConfigError
from core.migrate import discover, migrate

pytestmark = pytest.mark.integration

EXPECTED_TABLES = {
    "app_state", "users", "scenarios", "scenario_versions", "accounts", "user_accounts", "items", "buyers",
    "chats", "messages", "inbox", "outbound", "chat_mode_changes", "quick_replies", "kb_categories",
    "kb_articles", "kb_chunks", "kb_synonyms", "bot_turns", "schema_migrations",
}  # fmt: skip


async def test_apply_all_to_empty_database(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        applied = await migrate(conn)
        assert [m.version for m in applied] == [m.version for m in discover()]

        tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
        assert tables == EXPECTED_TABLES
        extensions = {r["extname"] for r in await conn.fetch("SELECT extname FROM pg_extension")}
        assert {"vector", "pg_trgm"} <= extensions
        views = {r["viewname"] for r in await conn.fetch("SELECT viewname FROM pg_views WHERE schemaname='public'")}
        assert {"v_daily_account_stats", "v_daily_intents", "v_response_times"} <= views

        # Every Avito user/item id column is int64.
        id_types = await conn.fetch(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = 'public' AND column_name IN ('avito_user_id', 'avito_item_id', 'avito_author_id')"""
        )
        assert id_types and all(r["data_type"] == "bigint" for r in id_types)

        indexes = {
            r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE schemaname='public'")
        }
        for name in (
            "messages_search_idx", "messages_text_trgm_idx", "messages_chat_idx", "chats_tab_idx",
            "messages_operator_search_idx", "inbox_pending_idx", "outbound_pending_idx", "kb_chunks_tsv_idx",
            "users_login_key",
        ):  # fmt: skip
            assert name in indexes

        # Re-running is a no-op.
        assert await migrate(conn) == []
    finally:
        await conn.close()


async def test_every_named_query_prepares(pool: asyncpg.Pool) -> None:
    """Catches a typo or a column rename in any .sql file without waiting for the code path that runs it."""
    queries = load_queries()
    async with pool.acquire() as conn:
        for name in queries.names():
            await conn.prepare(getattr(queries, name))


async def test_edited_migration_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t1 (id int);")
    conn = await asyncpg.connect(empty_database_url)
    try:
        assert len(await migrate(conn, tmp_path)) == 1
        (tmp_path / "0002_second.sql").write_text("CREATE TABLE t2 (id int);")
        assert [m.name for m in await migrate(conn, tmp_path)] == ["second"]
        (tmp_path / "0001_first.sql").write_text("CREATE TABLE t1 (id bigint);")
        with pytest.raises(ConfigError, match="changed after it was applied"):
            await migrate(conn, tmp_path)
    finally:
        await conn.close()


async def test_failed_migration_rolls_back_whole_file(empty_database_url: str, tmp_path: Path) -> None:
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(empty_database_url)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 0
    finally:
        await conn.close()


def test_migration_files_are_numbered_without_gaps(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(ConfigError, match="without gaps"):
        discover(tmp_path)


async def _seed_chat(conn: asyncpg.Connection) -> tuple[int, int]:
    account = await conn.fetchval(
        """INSERT INTO accounts (avito_user_id, name, credentials, webhook_secret)
           VALUES (4341979279123, 'Магазин', '\\x00', repeat('s', 40)) RETURNING id"""
    )
    chat = await conn.fetchval(
        "INSERT INTO chats (account_id, avito_chat_id) VALUES ($1, 'u2i-abc') RETURNING id", account
    )
    return account, chat


async def test_messages_are_unique_per_account_and_searchable(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        account, chat = await _seed_chat(conn)
        insert = """INSERT INTO messages (account_id, chat_id, avito_message_id, direction, author_kind, type, text,
                                          created_at)
                    VALUES ($1, $2, $3, 'in', 'client', 'text', $4, now())
                    ON CONFLICT (account_id, avito_message_id) DO NOTHING RETURNING id"""
        assert await conn.fetchval(insert, account, chat, "m1", "Велосипеды ещё продаются?") is not None
        assert await conn.fetchval(insert, account, chat, "m1", "duplicate delivery") is None
        # Russian stemming: «велосипед» finds «Велосипеды».
        found = await conn.fetchval(
            "SELECT count(*) FROM messages WHERE search @@ plainto_tsquery('russian', 'велосипед')"
        )
        assert found == 1
        # A partial word through the trigram index.
        assert await conn.fetchval("SELECT count(*) FROM messages WHERE text ILIKE '%елосип%'") == 1


async def test_scenario_versions_are_immutable(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("INSERT INTO scenarios (id, name, draft) VALUES ('default', 'По умолчанию', '{}')")
            await conn.execute("INSERT INTO scenario_versions (scenario_id, version, spec) VALUES ('default', 1, '{}')")
            await conn.execute("UPDATE scenarios SET published_version = 1 WHERE id = 'default'")
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute("UPDATE scenario_versions SET spec = '{\"x\": 1}' WHERE scenario_id = 'default'")
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with conn.transaction():
                await conn.execute("UPDATE scenarios SET published_version = 7 WHERE id = 'default'")


async def test_chat_mode_is_constrained(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        _, chat = await _seed_chat(conn)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE chats SET mode = 'robot' WHERE id = $1", chat)
