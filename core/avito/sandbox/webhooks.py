"""Webhook deliveries as Avito makes them: signed, late on request, sometimes twice, sometimes never, retried
with backoff (a mixin of ``SandboxState``; deliveries are tasks on the server's loop and never hold up an API
answer)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp

from core.avito.sandbox.config import SandboxConfig
from core.avito.sandbox.models import Delivery, SbChat, SbMessage


class WebhookSender:
    """Each new message goes to the account's webhook URLs (mixed into ``SandboxState``, which calls ``_notify``;
    ``_loop`` and ``_http`` are set while the server runs)."""

    config: SandboxConfig
    _lock: threading.RLock
    _rng: random.Random
    subscriptions: dict[int, list[str]]
    deliveries: list[Delivery]
    _loop: asyncio.AbstractEventLoop | None
    _http: aiohttp.ClientSession | None
    _tasks: set[asyncio.Task[None]]

    def webhook_event(self, chat: SbChat, message: SbMessage) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "version": self.config.webhook_version,
            "timestamp": int(time.time()),
            "payload": {
                "type": "message",
                "value": {
                    "id": message.id,
                    "chat_id": chat.id,
                    "user_id": chat.account_id,
                    "author_id": message.author_id,
                    "created": message.created,
                    "type": message.type,
                    "chat_type": chat.chat_type,
                    "content": message.content,
                    "item_id": chat.item_id,
                    "published_at": datetime.fromtimestamp(message.created, UTC).isoformat().replace("+00:00", "Z"),
                    "read": message.read,
                },
            },
        }

    def _notify(self, chat: SbChat, message: SbMessage) -> None:
        urls = list(self.subscriptions.get(chat.account_id, ()))
        if not urls or self._loop is None:
            return
        event = self.webhook_event(chat, message)
        body = json.dumps(event, ensure_ascii=False).encode()
        for url in urls:
            # Thread-safe scheduling: _notify runs on the server loop (API calls) or in a test's thread (inject).
            self._loop.call_soon_threadsafe(self._spawn, self._deliver(url, body, event["id"], message.id))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: bytes, event_id: str, message_id: str) -> None:
        config = self.config
        # Avito signs deliveries with an undocumented algorithm; the header is there so receivers see one.
        signature = hmac.new(b"sandbox", body, hashlib.sha256).hexdigest()
        headers = {"content-type": "application/json", "x-avito-messenger-signature": signature}
        if config.webhook_delay > 0:
            await asyncio.sleep(config.webhook_delay)
        if config.webhook_drop_probability > 0 and self._rng.random() < config.webhook_drop_probability:
            with self._lock:
                self.deliveries.append(Delivery(url, event_id, message_id, 0, 0, 0, time.monotonic(), dropped=True))
            return
        copies = 2 if self._rng.random() < config.webhook_duplicate_probability else 1
        assert self._http is not None
        # Avito's 2 s are for the receiver to answer: a delivery waiting for one of the sender's connections
        # (a burst of thousands) is not the receiver's fault, so the wait for a connection is not counted.
        timeout = aiohttp.ClientTimeout(sock_connect=config.webhook_timeout, sock_read=config.webhook_timeout)
        for copy in range(copies):
            for attempt in range(1, config.webhook_retries + 2):
                try:
                    async with self._http.post(url, data=body, headers=headers, timeout=timeout) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                with self._lock:
                    self.deliveries.append(Delivery(url, event_id, message_id, attempt, copy, status, time.monotonic()))
                if 200 <= status < 300:
                    break
                if attempt <= config.webhook_retries:
                    await asyncio.sleep(config.webhook_retry_backoff * 2 ** (attempt - 1))
            if copy + 1 < copies:
                await asyncio.sleep(self._rng.uniform(0.05, 0.3))  # a duplicate comes a little later

    def deliveries_of(self, message_id: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.message_id == message_id]
