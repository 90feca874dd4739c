"""`POST /webhooks/avito/{secret}`: Avito's deliveries, stored durably and acknowledged at once (DESIGN §2).

The secret in the path picks the account. It is looked up by its SHA-256 (so the lookup's timing says nothing
about the secret) and then compared in constant time. The body is size-limited, decoded by msgspec, and stored
with its message in one transaction (:class:`core.store.inbox.IngestQueue`: deliveries arriving together share
one commit); the answer is 200 as soon as the transaction holding it commits.
The commit itself wakes the chat's session (the database announces the row: actors/inbox_listener.py); events
are published after the response.

Answers: 200 stored (or a duplicate, or a payload type we keep but do not process); 400 not JSON, or a message
delivery without the fields a message needs (kept for audit all the same); 404 unknown secret; 413 too large.
Never a 500 for anything the sender did: a valid message is never lost to a bug in handling another.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, asgi
from litestar.types import Receive, Scope, Send

from core.avito.connect import WEBHOOK_PATH
from core.avito.payloads import WebhookEvent, message_text
from core.db import queries
from core.events import ChatCreated, ChatUpdated, Event, MessageNew, MessageView, ModeChanged, Publisher
from core.store.inbox import Ingested, ingest, store_other

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # Avito's deliveries are a few hundred bytes; a message's text is at most a few KB


class Target(msgspec.Struct, frozen=True):
    account_id: int
    avito_user_id: int
    secret: str


class WebhookTargets:
    """Webhook secrets → accounts, cached in memory. An unknown secret reloads the table — one reload shared by
    the misses waiting for it — so an account connected a moment ago is found at once, and a flood of wrong
    secrets costs one small indexed read per wave, no more than any other 404."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._by_digest: dict[bytes, Target] = {}
        self._loaded_at = float("-inf")
        self._reloading = asyncio.Lock()

    @staticmethod
    def _digest(secret: str) -> bytes:
        return hashlib.sha256(secret.encode()).digest()

    async def reload(self) -> None:
        rows = await self.pool.fetch(queries.account_webhook_targets)
        self._by_digest = {self._digest(r["webhook_secret"]): Target(r["id"], r["avito_user_id"], r["webhook_secret"])
                           for r in rows}  # fmt: skip
        self._loaded_at = time.monotonic()

    async def find(self, secret: str) -> Target | None:
        digest = self._digest(secret)
        target = self._by_digest.get(digest)
        if target is None:
            asked_at = time.monotonic()
            async with self._reloading:
                if self._loaded_at < asked_at:  # nobody reloaded since this request looked
                    await self.reload()
            target = self._by_digest.get(digest)
        if target is None or not hmac.compare_digest(target.secret.encode(), secret.encode()):
            return None
        return target


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    content = msgspec.json.encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": content})


class _TooLarge(Exception):
    pass


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    """The request body, refused (``_TooLarge``) past MAX_BODY: by its declared length before reading, or as
    soon as what arrived exceeds it."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY:
            raise _TooLarge
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _events(target: Target, event: WebhookEvent, stored: Ingested) -> list[Event]:
    value = event.payload.value
    assert value is not None and stored.message_id is not None
    view = MessageView(
        id=stored.message_id,
        chat_id=stored.chat_id,
        avito_message_id=value.id,
        direction="out" if value.author_id == target.avito_user_id else "in",
        author_kind=stored.author_kind,
        type=value.type,
        text=message_text(value.type, value.content),
        content=value.content,
        created_at=datetime.fromtimestamp(value.created, UTC) if value.created > 0 else datetime.now(UTC),
    )
    events: list[Event] = []
    if stored.chat_created:
        events.append(ChatCreated(account_id=target.account_id, chat_id=stored.chat_id))
    events.append(MessageNew(account_id=target.account_id, chat_id=stored.chat_id, message=view))
    if stored.mode_changed:
        events.append(ModeChanged(account_id=target.account_id, chat_id=stored.chat_id, mode=stored.mode,
                                  reason="avito_app"))  # fmt: skip
    if not stored.chat_created:
        events.append(ChatUpdated(account_id=target.account_id, chat_id=stored.chat_id))
    return events


async def _after_commit(publisher: Publisher | None, stored: Ingested, events: list[Event]) -> None:
    # The chat's session needs no call from here: the database announced its new row on commit (migration 0014,
    # actors/inbox_listener.py).
    if publisher is not None:
        await publisher.publish(*events)


# A plain ASGI route: this is the one endpoint Avito calls at full rate, and Litestar's request, parameter and
# response layers cost more CPU than storing the delivery (a third of the app's time per webhook, measured with
# benchmarks/ingest.py). It passes the middleware like every other route. It is a mount, and reads the secret from
# the rest of the path itself, because Litestar 2 cannot route an HTTP request to an ASGI route with a path
# parameter (it looks the parameters up under the method's name, an ASGI route files them under "asgi").
@asgi(WEBHOOK_PATH, is_mount=True, exclude_from_auth=True, copy_scope=False)
async def avito_webhook(scope: Scope, receive: Receive, send: Send) -> None:
    """Avito's messenger webhook, POST {WEBHOOK_PATH}/{secret}: a delivery (JSON); the answer is JSON too."""
    if scope["type"] != "http" or scope["method"] != "POST":
        await _answer(send, 405, {"error": "Only POST is accepted here."})
        return
    state = Litestar.from_scope(scope).state
    status, answer, stored = await _take(state, scope, receive)
    await _answer(send, status, answer)
    if stored is not None:  # after the answer, as Avito need not wait for it: publish events
        await _after_commit(state.get("publisher"), *stored)


async def _take(
    state: Any, scope: Scope, receive: Receive
) -> tuple[int, dict[str, Any], tuple[Ingested, list[Event]] | None]:
    """The delivery checked and stored: the answer's status and body, and for a new message what it stored and the
    events to publish once answered."""
    secret = scope["path"].strip("/")
    target = await state.webhook_targets.find(secret) if secret and "/" not in secret else None
    if target is None:
        return 404, {"error": "Unknown webhook address."}, None
    try:
        body = await _read_body(scope, receive)
    except _TooLarge:
        return 413, {"error": f"The body is larger than {MAX_BODY} bytes."}, None
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return 400, {"error": "The body is not JSON."}, None
    if not isinstance(payload, dict):
        return 400, {"error": "The body must be a JSON object."}, None
    pool: asyncpg.Pool = state.db_pool
    inner = payload.get("payload")
    kind = str(inner.get("type") or "unknown") if isinstance(inner, dict) else "unknown"
    if kind != "message":  # a payload type this version does not know: kept, not processed
        await store_other(pool, target.account_id, kind, payload)
        return 200, {"ok": True, "stored": "ignored"}, None
    try:
        event = msgspec.convert(payload, WebhookEvent, strict=False)
    except msgspec.ValidationError as exc:
        await store_other(pool, target.account_id, "invalid:message", payload)
        return 400, {"error": f"Not a valid message delivery: {exc}"}, None
    if event.payload.value is None:  # a message delivery without its message: kept for audit, nothing to do
        await ingest(pool, target.account_id, target.avito_user_id, event, payload)
        return 200, {"ok": True, "stored": "ignored"}, None
    stored = await state.ingest_queue.ingest(target.account_id, target.avito_user_id, event, body)
    if stored.duplicate:
        return 200, {"ok": True, "stored": "duplicate"}, None
    return 200, {"ok": True, "stored": "message"}, (stored, _events(target, event, stored))
