"""The polling fallback: every ``every`` seconds, each active account's unread chats are read back from Avito and
any message whose webhook never arrived is stored as that webhook would have stored it (AVITO_API.md §3:
delivery is at-least-once at best, and retries are unconfirmed).

It runs in the web process next to the dispatcher. The work is the account's — ``AccountSession.poll_unread``,
through the account's actor on Ray or its session in this process — and what it stored is followed up like a
webhook's: the database announces each new buyer row to its session host (migration 0014), ``on_new(chat_ids)``
is told of those chats when given (a hook for callers without a listener), and realtime events are published
after the commit when a publisher is given. The first poll runs at start, so messages sent while the app was
down are answered too.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from actors.account import Polled
from actors.registry import cancel
from core.events import ChatCreated, ChatUpdated, Event, MessageNew, ModeChanged, Publisher
from core.settings import Settings
from core.store.accounts import list_accounts
from core.store.chats import message_view

log = logging.getLogger(__name__)

DEFAULT_EVERY = 60.0

PollAccount = Callable[[int], Awaitable[Polled]]
OnNew = Callable[[list[int]], Any]  # may be a coroutine function


def local_poll(accounts: Any) -> PollAccount:
    """Polls through `actors.registry.LocalAccounts` (account sessions in this process)."""

    async def poll(account_id: int) -> Polled:
        return await accounts.session(account_id).poll_unread()  # type: ignore[no-any-return]

    return poll


def ray_poll(settings: Settings, database_url: str) -> PollAccount:
    """Polls through each account's `AccountActor` (created on first use, as the chat sessions' are)."""
    from actors.registry import account_actor

    actors: dict[int, Any] = {}

    async def poll(account_id: int) -> Polled:
        if (actor := actors.get(account_id)) is None:
            actor = actors[account_id] = account_actor(settings, database_url, account_id)
        return await actor.poll_unread.remote()  # type: ignore[no-any-return]

    return poll


class Poller:
    def __init__(
        self,
        pool: asyncpg.Pool,
        poll: PollAccount,
        *,
        on_new: OnNew | None = None,
        publisher: Publisher | None = None,
        every: float = DEFAULT_EVERY,
        concurrency: int = 4,
    ) -> None:
        self.pool = pool
        self.poll = poll
        self.on_new = on_new
        self.publisher = publisher
        self.every = every
        self._limit = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self.polls = 0  # rounds done
        self.found = 0  # messages stored that no webhook had brought

    async def poll_once(self) -> int:
        """One round over the active accounts; returns how many messages were new. An account whose poll fails
        is logged and skipped (the next round tries again)."""
        accounts = [a.id for a in await list_accounts(self.pool) if a.state == "active"]
        found = sum(await asyncio.gather(*(self._poll_account(account_id) for account_id in accounts)))
        self.polls += 1
        self.found += found
        return found

    async def _poll_account(self, account_id: int) -> int:
        async with self._limit:
            try:
                polled = await self.poll(account_id)
            except Exception as exc:
                log.warning("polling account %d for missed messages failed (next round retries): %s", account_id, exc)
                return 0
        if polled.new:
            log.info("account %d: %d message(s) whose webhook never came, stored by polling", account_id, polled.new)
        try:
            if (chat_ids := polled.dispatch_chat_ids) and self.on_new is not None:
                result = self.on_new(chat_ids)
                if inspect.isawaitable(result):
                    await result
            if self.publisher is not None and polled.messages:
                await self.publisher.publish(*await self._events(account_id, polled))
        except Exception:
            log.exception("account %d: following up polled messages failed (the dispatcher's sweep will)", account_id)
        return polled.new

    async def _events(self, account_id: int, polled: Polled) -> list[Event]:
        """What the webhook handler would have published for the same messages."""
        events: list[Event] = []
        for stored in polled.messages:
            if stored.chat_created:
                events.append(ChatCreated(account_id=account_id, chat_id=stored.chat_id))
            view = await message_view(self.pool, stored.message_id)
            events.append(MessageNew(account_id=account_id, chat_id=stored.chat_id, message=view))
            if stored.mode_changed:
                events.append(
                    ModeChanged(account_id=account_id, chat_id=stored.chat_id, mode=stored.mode, reason="avito_app")
                )
            if not stored.chat_created:
                events.append(ChatUpdated(account_id=account_id, chat_id=stored.chat_id))
        return events

    def start(self) -> None:
        if self.every > 0:
            self._task = asyncio.create_task(self._run(), name="poller")

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.poll_once()
            except Exception:
                log.exception("polling for missed messages failed; retrying in %.0f s", self.every)
            await asyncio.sleep(max(0.05, self.every - (time.monotonic() - started)))

    async def stop(self) -> None:
        await cancel(self._task)
        self._task = None
