"""The dispatcher: wakes the chat session of every chat with unprocessed inbox rows (DESIGN §2, step 2).

It runs in the web process. A new row needs no call from here: the database announces it when its transaction
commits and its session host hears it (actors/inbox_listener.py). The dispatcher is the safety net: a sweep of
the inbox every few seconds re-dispatches rows that are still unprocessed — one announced while its host was
restarting or its listening connection was down, one whose turn failed, everything a previous run left — so
processing is driven by the database, not by the memory of any process; and it hands over the chats the polling
fallback found. Notifications within one loop tick are batched per host (one Ray call each). A wake-up is only a
hint: a session reads its chat's rows itself, so dispatching twice is harmless; but it is not free (the session
reads its rows again), so the sweep leaves alone a chat it handed over less than ``renotify_after`` seconds ago —
under a backlog that chat's session is still working through its rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg

from actors.registry import cancel, host_index
from core.store.chats import pending_chats

log = logging.getLogger(__name__)


class Host(Protocol):
    """A SessionHost as the dispatcher sees it (in-process, or a Ray actor behind `RayHost`)."""

    def deliver(self, chat_ids: list[int]) -> Any: ...


class RayHost:
    """A SessionHostActor handle; `deliver` is fire-and-forget, with failures logged."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def deliver(self, chat_ids: list[int]) -> None:
        ref = self.handle.deliver.remote(chat_ids)
        future = asyncio.wrap_future(ref.future())
        future.add_done_callback(_log_failure)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.warning("a session host did not take its chats (the sweep will retry): %s", exc)


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        hosts: Sequence[Host],
        *,
        sweep_every: float = 2.0,
        older_than: float = 2.0,
        renotify_after: float = 30.0,
    ) -> None:
        if not hosts:
            raise ValueError("the dispatcher needs at least one session host")
        self.pool = pool
        self.hosts = list(hosts)
        self.sweep_every = sweep_every
        self.older_than = older_than
        self.renotify_after = renotify_after
        self._notified: dict[int, float] = {}  # chat → when it was last handed to its host
        self._waiting: dict[int, set[int]] = defaultdict(set)
        self._flush_scheduled = False
        self._task: asyncio.Task[None] | None = None
        self.dispatched = 0
        self.swept = 0

    def notify(self, chat_id: int) -> None:
        """A chat has a new row; it is handed over at the end of this loop tick, batched with the others."""
        self._waiting[host_index(chat_id, len(self.hosts))].add(chat_id)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        waiting, self._waiting = self._waiting, defaultdict(set)
        now = time.monotonic()
        for index, chat_ids in waiting.items():
            self._notified.update(dict.fromkeys(chat_ids, now))
            self.dispatched += len(chat_ids)
            try:
                self.hosts[index].deliver(sorted(chat_ids))
            except Exception:
                log.exception("could not hand chats to session host %d (the sweep will retry)", index)

    async def sweep(self, older_than: float | None = None) -> int:
        """Dispatches every chat whose rows have waited longer than ``older_than`` seconds; returns how many."""
        chats = await pending_chats(
            self.pool, limit=10_000, older_than=self.older_than if older_than is None else older_than
        )
        since = time.monotonic() - self.renotify_after
        self._notified = {chat: at for chat, at in self._notified.items() if at > since}
        chats = [chat for chat in chats if chat not in self._notified]
        for chat_id in chats:
            self.notify(chat_id)
        self.swept += len(chats)
        return len(chats)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    async def _run(self) -> None:
        # At start, everything a previous run left unanswered, at once.
        first = True
        while True:
            try:
                await self.sweep(0.0 if first else None)
                first = False
            except Exception:
                log.exception("inbox sweep failed; retrying")
            await asyncio.sleep(self.sweep_every)

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
