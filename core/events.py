"""Realtime events: what browsers are told, and how it reaches them.

Every event is a declared Struct with a fixed name; it goes to the room ``account:{id}`` of the account it
concerns, so a user only hears about accounts they may see (the Socket.io server joins them to those rooms).
Events are published through python-socketio's write-only Redis manager — any process (the web app, a Ray
actor) can publish, and whichever web process holds a browser's socket delivers it.

Publish only after the transaction that caused the event has committed (DESIGN §2, invariant 5): a browser that
reacts to an event by fetching must find what the event announced.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, ClassVar

import msgspec

log = logging.getLogger(__name__)


class Event(msgspec.Struct, kw_only=True):
    name: ClassVar[str]
    account_id: int

    @property
    def room(self) -> str:
        return room_of(self.account_id)


class MessageView(msgspec.Struct, kw_only=True):
    """A message as the messenger shows it (the REST API returns the same shape)."""

    id: int
    chat_id: int
    avito_message_id: str | None
    direction: str  # in | out
    author_kind: str  # client | bot | operator | system
    type: str
    text: str
    content: dict[str, Any] = {}
    created_at: datetime
    author_user_id: int | None = None


class MessageNew(Event, kw_only=True):
    name: ClassVar[str] = "message.new"
    chat_id: int
    message: MessageView


class ChatCreated(Event, kw_only=True):
    name: ClassVar[str] = "chat.created"
    chat_id: int


class ChatUpdated(Event, kw_only=True):
    """The chat's card changed (buyer, listing, last message, unread count): refetch it."""

    name: ClassVar[str] = "chat.updated"
    chat_id: int
    unread_count: int | None = None


class ModeChanged(Event, kw_only=True):
    name: ClassVar[str] = "chat.mode"
    chat_id: int
    mode: str  # bot | operator
    reason: str  # handoff_node | operator | avito_app | api
    operator_id: int | None = None


class ChatRead(Event, kw_only=True):
    name: ClassVar[str] = "chat.read"
    chat_id: int


EVENT_TYPES: tuple[type[Event], ...] = (MessageNew, ChatCreated, ChatUpdated, ModeChanged, ChatRead)


def room_of(account_id: int) -> str:
    return f"account:{account_id}"


class Publisher:
    """Publishes events to Socket.io rooms through Redis. A failed publish is logged, never raised: the data is
    committed, and a browser that missed an event resyncs on reconnect.

    Messages are python-socketio's pub/sub messages, which the Socket.io servers' Redis managers deliver to their
    rooms. They are built here rather than by the manager's ``emit``, which walks every value of the data looking
    for bytes (ours never hold any) and encodes with the standard json module: the two cost a webhook more than
    a tenth of the app's time. Every message published in the same loop tick — the events of one call and of
    every other webhook or turn finishing then — goes to Redis in one pipelined round trip (`_batching_manager`)."""

    def __init__(self, redis_url: str) -> None:
        self._manager = _batching_manager(redis_url)

    def _message(self, event: Event) -> bytes:
        # The message AsyncPubSubManager.emit publishes for emit(event.name, data, room=…, namespace="/").
        return msgspec.json.encode({
            "method": "emit", "event": event.name, "data": [event], "binary": False, "namespace": "/",
            "room": event.room, "skip_sid": None, "callback": None, "host_id": self._manager.host_id,
        })  # fmt: skip

    async def publish(self, *events: Event) -> None:
        if not events:
            return
        try:
            await self._manager.publish_messages([self._message(event) for event in events])
        except Exception:
            log.exception("could not publish %s", ", ".join(event.name for event in events))

    async def aclose(self) -> None:
        await close_manager(self._manager)


def _batching_manager(redis_url: str) -> Any:
    """python-socketio's `AsyncRedisManager` (write-only) that sends messages in batches: the first message of
    a loop tick schedules one pipeline with every message queued until it runs. A publish returns only after its
    messages were sent (or raises if the pipeline failed). Its own ``_publish`` (``emit`` and the rest) queues too."""
    import socketio

    class BatchingRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(redis_url, write_only=True)
            self._queued: list[tuple[bytes | str, asyncio.Future[None]]] = []
            self._flushes: set[asyncio.Task[None]] = set()

        async def _publish(self, data: Any) -> None:
            await self.publish_messages([self.json.dumps(data)])

        async def publish_messages(self, messages: list[bytes | str]) -> None:
            loop = asyncio.get_running_loop()
            done = loop.create_future()
            if not self._queued:  # the flush runs once this tick's other publishers have queued theirs
                flush = loop.create_task(self._flush())
                self._flushes.add(flush)
                flush.add_done_callback(self._flushes.discard)
            self._queued.extend((message, done) for message in messages)
            await done

        async def _flush(self) -> None:
            queued, self._queued = self._queued, []
            error: Exception | None = None
            for _attempt in range(2):  # as the library does: one reconnect and retry
                try:
                    if not self.connected:
                        self._redis_connect()
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for message, _ in queued:
                            pipe.publish(self.channel, message)
                        await pipe.execute()
                    error = None
                    break
                except Exception as exc:
                    error = exc
                    self.connected = False
            for _, done in queued:
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    return BatchingRedisManager()


async def close_manager(manager: Any) -> None:
    """Stops a python-socketio Redis manager's listener and closes its connection (the library has no close)."""
    import contextlib

    thread = getattr(manager, "thread", None)
    if isinstance(thread, asyncio.Task):
        thread.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await thread
    if (redis := getattr(manager, "redis", None)) is not None:
        await redis.aclose()
