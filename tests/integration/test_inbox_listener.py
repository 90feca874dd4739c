"""The database announces a buyer's row waiting for its session on commit (migration 0014), and each session host's
`InboxListener` wakes the chats that hash to it — after its connection is lost too."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg
import pytest

from actors.inbox_listener import InboxListener
from actors.registry import host_index

pytestmark = pytest.mark.integration


async def _chats(pool: asyncpg.Pool, count: int) -> tuple[int, list[int]]:
    account = await pool.fetchval(
        "INSERT INTO accounts (avito_user_id, name, credentials, webhook_secret) "
        "VALUES (7001, 'shop', '\\x00', $1) RETURNING id",
        "s" * 40,
    )
    chats = [
        await pool.fetchval(
            "INSERT INTO chats (account_id, avito_chat_id) VALUES ($1, $2) RETURNING id", account, f"u2i-{n}"
        )
        for n in range(count)
    ]
    return account, chats


async def _inbox_row(pool: asyncpg.Pool, account: int, chat: int, *, processed: bool = False) -> None:
    await pool.execute(
        "INSERT INTO inbox (account_id, kind, payload, chat_id, processed_at) "
        "VALUES ($1, 'message', '{}', $2, CASE WHEN $3 THEN now() END)",
        account,
        chat,
        processed,
    )


class Woken:
    """The chats a listener woke, and a way to wait for the next one."""

    def __init__(self) -> None:
        self.chats: list[int] = []
        self._arrived = asyncio.Event()

    def __call__(self, chat_id: int) -> None:
        self.chats.append(chat_id)
        self._arrived.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(5.0):
            while not predicate():
                self._arrived.clear()
                await self._arrived.wait()


async def test_each_host_hears_its_own_chats_pending_rows_only(pool: asyncpg.Pool, database_url: str) -> None:
    account, chats = await _chats(pool, 12)
    woken = [Woken(), Woken()]
    listeners = [InboxListener(database_url, woken[n], index=n, hosts=2) for n in range(2)]
    for listener in listeners:
        await listener.start()
    try:
        # A row stored already processed (an echo, an operator's message) wakes nobody; a transaction rolled back
        # announces nothing.
        await _inbox_row(pool, account, chats[0], processed=True)
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute(
                "INSERT INTO inbox (account_id, kind, payload, chat_id) VALUES ($1, 'message', '{}', $2)",
                account,
                chats[1],
            )
            await transaction.rollback()
        for chat in chats:
            await _inbox_row(pool, account, chat)
        for n in range(2):
            await woken[n].until(lambda n=n: len(woken[n].chats) == sum(host_index(c, 2) == n for c in chats))
        await asyncio.sleep(0.1)  # nothing more comes
        for n in range(2):
            assert woken[n].chats == [c for c in chats if host_index(c, 2) == n]
            assert listeners[n].heard == len(woken[n].chats)
        assert woken[0].chats and woken[1].chats
    finally:
        for listener in listeners:
            await listener.stop()


async def test_the_listener_listens_again_after_its_connection_is_lost(pool: asyncpg.Pool, database_url: str) -> None:
    account, [chat] = await _chats(pool, 1)
    woken = Woken()
    listener = InboxListener(database_url, woken, retry_every=0.05)
    await listener.start()
    try:
        killed = await pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
        )
        assert killed == 1

        # Rows committed while it reconnects are the sweep's; once it listens again it hears new ones.
        async def heard() -> bool:
            await _inbox_row(pool, account, chat)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.05):
                    await woken.until(lambda: bool(woken.chats))
            return bool(woken.chats)

        for _ in range(100):
            if await heard():
                break
        assert woken.chats and set(woken.chats) == {chat}
    finally:
        await listener.stop()
