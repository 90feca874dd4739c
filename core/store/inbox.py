"""The durable half of a webhook: a delivery and its message stored in one transaction, then nothing else.

`ingest` is what `api/webhooks` calls; the SQL function it runs (migrations/0008_ingest.sql) de-duplicates by
Avito's message id, tells our own sends (echoes) from a person answering in Avito's app, and leaves a buyer's
message as an unprocessed inbox row for the dispatcher. Processing is driven by those rows (DESIGN §2).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from core.avito.payloads import WebhookEvent, message_text
from core.db import queries

log = logging.getLogger(__name__)

Conn = asyncpg.Connection | asyncpg.Pool


class Ingested(msgspec.Struct, frozen=True, kw_only=True):
    chat_id: int
    chat_created: bool
    message_id: int | None  # None: a duplicate delivery, nothing new was stored
    inbox_id: int | None
    author_kind: str
    dispatch: bool  # a buyer's message waiting for its chat session
    mode: str
    mode_changed: bool

    @property
    def duplicate(self) -> bool:
        return self.message_id is None


def _time(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC) if unix > 0 else datetime.now(UTC)


def _arguments(event: WebhookEvent) -> list[Any]:
    """`ingest_message`'s arguments after the payload, for a message delivery."""
    value = event.payload.value
    assert value is not None
    return [value.chat_id, value.chat_type, value.id, value.author_id, value.type,
            message_text(value.type, value.content), value.content, _time(value.created), value.item_id]  # fmt: skip


async def ingest(conn: Conn, account_id: int, own_user_id: int, event: WebhookEvent, payload: Any) -> Ingested | None:
    """Stores a delivery (``payload``: the body as received). A message delivery returns what happened to it;
    any other delivery is kept for audit and returns None."""
    value = event.payload.value
    if event.payload.type != "message" or value is None:
        await conn.execute(queries.inbox_store_other, account_id, event.id or None, event.payload.type[:64], payload)
        return None
    row = await conn.fetchrow(
        queries.ingest_message, account_id, own_user_id, event.id or None, payload,
        *_arguments(event),
    )  # fmt: skip
    return Ingested(**dict(row))


async def store_other(conn: Conn, account_id: int, kind: str, payload: Any) -> None:
    """A body that decodes as JSON but not as a delivery we understand: kept, never processed."""
    await conn.execute(queries.inbox_store_other, account_id, None, kind[:64], payload)


class _Delivery:
    __slots__ = ("arguments", "done", "event", "key", "payload")

    def __init__(self, account_id: int, own_user_id: int, event: WebhookEvent, body: bytes) -> None:
        assert event.payload.value is not None
        self.key = (account_id, event.payload.value.chat_id)
        self.arguments = [account_id, own_user_id, event.id or None, body.decode(),
                          *_arguments(event)]  # fmt: skip
        self.event = event
        self.payload = body
        self.done: asyncio.Future[Ingested] = asyncio.get_running_loop().create_future()


class IngestQueue:
    """Message deliveries stored by group commit: the webhooks that arrive while a batch is being written go
    together into the next one — one statement, one transaction, one commit and one pool round trip for all of
    them (``ingest_messages``). Each caller still returns only after the transaction holding its delivery has
    committed, so a 200 always means stored (DESIGN §2, invariant 1). With no other delivery waiting a batch is
    a single delivery and starts at once: group commit adds no wait, it only shares the cost under load.

    Order and locks: a batch holds at most one delivery per chat, and a chat with a delivery in a batch still
    being written gets no other until that batch commits, so a chat's deliveries are stored in the order they
    came. Within a batch the chats are taken in one global order; every lock a delivery takes belongs to its own
    chat, so concurrent batches cannot deadlock each other. A batch that fails is retried one delivery at a time,
    so a delivery PostgreSQL refuses fails alone and never takes the others down with it."""

    def __init__(self, pool: asyncpg.Pool, *, max_batch: int = 64, writers: int = 2) -> None:
        self.pool = pool
        self.max_batch = max_batch
        self.writers = writers  # batches written at once: one commits while the next is built
        self._waiting: list[_Delivery] = []
        self._writing: set[tuple[int, str]] = set()  # chats with a delivery in a batch not yet committed
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()  # the writers, referenced until done
        self.batches = 0
        self.deliveries = 0

    async def ingest(self, account_id: int, own_user_id: int, event: WebhookEvent, body: bytes) -> Ingested:
        """Stores a message delivery (``body``: the JSON as received, stored as the inbox row's payload)."""
        delivery = _Delivery(account_id, own_user_id, event, body)
        self._waiting.append(delivery)
        if self._running < self.writers:
            self._running += 1
            task = asyncio.get_running_loop().create_task(self._write())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await delivery.done

    def _next_batch(self) -> list[_Delivery]:
        batch: dict[tuple[int, str], _Delivery] = {}
        rest: list[_Delivery] = []
        for delivery in self._waiting:
            if len(batch) >= self.max_batch or delivery.key in batch or delivery.key in self._writing:
                rest.append(delivery)
            else:
                batch[delivery.key] = delivery
        self._waiting = rest
        return [batch[key] for key in sorted(batch)]

    async def _write(self) -> None:
        # A writer stops when nothing it may take is waiting; deliveries held back behind a chat in another
        # writer's batch are taken by that writer when its batch has committed.
        try:
            while batch := self._next_batch():
                keys = [d.key for d in batch]
                self._writing.update(keys)
                try:
                    await self._store(batch)
                finally:
                    self._writing.difference_update(keys)
                    for delivery in batch:
                        if not delivery.done.done():  # only if _store itself broke
                            delivery.done.set_exception(RuntimeError("the delivery was not stored"))
        finally:
            self._running -= 1

    async def _store(self, batch: list[_Delivery]) -> None:
        try:
            columns = list(zip(*(d.arguments for d in batch), strict=True))
            columns[10] = [msgspec.json.encode(c).decode() for c in columns[10]]  # contents, as JSON text
            rows = await self.pool.fetch(queries.ingest_messages, *columns)
        except Exception:
            if len(batch) > 1:
                log.warning("a batch of %d webhook deliveries failed; storing them one by one", len(batch),
                            exc_info=True)  # fmt: skip
            for delivery in batch:
                await self._store_alone(delivery)
            return
        self.batches += 1
        self.deliveries += len(batch)
        for delivery, row in zip(batch, rows, strict=True):
            if not delivery.done.done():  # a caller that went away (its client hung up) has cancelled it
                delivery.done.set_result(Ingested(**dict(row)))

    async def _store_alone(self, delivery: _Delivery) -> None:
        try:
            stored = await ingest(self.pool, delivery.key[0], delivery.arguments[1], delivery.event,
                                  msgspec.json.decode(delivery.payload))  # fmt: skip
        except Exception as exc:
            if not delivery.done.done():
                delivery.done.set_exception(exc)
            return
        if not delivery.done.done():
            assert stored is not None
            delivery.done.set_result(stored)
