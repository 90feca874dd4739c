"""Hears PostgreSQL announce new inbox rows and wakes their chats' sessions (DESIGN §2, step 2).

Migration 0014's trigger announces every buyer message waiting for its session on channel ``inbox_pending`` when
its transaction commits (never before: a session woken by it finds the row). Each session host listens on a
connection of its own and wakes the chats that hash to it (`actors.registry.host_index`), so a message reaches its
session without passing through the web process or Ray. An announcement is only a hint, like the dispatcher's:
a lost one — the connection dropped, the host restarting — is made up by the dispatcher's inbox sweep, and this
listener reconnects on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from actors.registry import cancel, host_index
from core.db import redact

log = logging.getLogger(__name__)

CHANNEL = "inbox_pending"


class InboxListener:
    """Calls ``wake(chat_id)`` for each announced row of a chat that host ``index`` of ``hosts`` owns."""

    def __init__(
        self,
        database_url: str,
        wake: Callable[[int], None],
        *,
        index: int = 0,
        hosts: int = 1,
        retry_every: float = 1.0,
    ) -> None:
        self.database_url = database_url
        self.wake = wake
        self.index = index
        self.hosts = hosts
        self.retry_every = retry_every
        self.heard = 0
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listens before returning (a row committed after this is heard), then keeps the connection up."""
        await self._listen()
        self._task = asyncio.create_task(self._keep(), name="inbox-listener")

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self.database_url, timeout=10.0)
        try:
            conn.add_termination_listener(self._terminated)
            await conn.add_listener(CHANNEL, self._heard)
        except BaseException:
            await conn.close()
            raise
        self._lost.clear()
        self._conn = conn

    async def _keep(self) -> None:
        while True:
            await self._lost.wait()
            if self._conn is not None:
                self._conn.terminate()
                self._conn = None
            try:
                await self._listen()
                log.info("listening for new inbox rows again (rows of the gap are swept)")
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("cannot listen for new inbox rows at %s: %s", redact(self.database_url), exc)
                await asyncio.sleep(self.retry_every)

    def _terminated(self, conn: Any) -> None:
        self._lost.set()

    def _heard(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        try:
            chat_id = int(payload)
        except ValueError:
            return
        if host_index(chat_id, self.hosts) == self.index:
            self.heard += 1
            self.wake(chat_id)
