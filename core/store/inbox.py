"""The durable half of a webhook: a delivery and its message stored in one transaction, then nothing else.

`ingest` is what `api/webhooks` calls; the SQL function it runs (migrations/0008_ingest.sql) de-duplicates by
Avito's message id, tells our own sends (echoes) from a person answering in Avito's app, and leaves a buyer's
message as an unprocessed inbox row for the dispatcher. Processing is driven by those rows (DESIGN §2).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from core.avito.payloads import WebhookEvent, message_text
from core.db import queries

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


async def ingest(conn: Conn, account_id: int, own_user_id: int, event: WebhookEvent, payload: Any) -> Ingested | None:
    """Stores a delivery (``payload``: the body as received). A message delivery returns what happened to it;
    any other delivery is kept for audit and returns None."""
    value = event.payload.value
    if event.payload.type != "message" or value is None:
        await conn.execute(queries.inbox_store_other, account_id, event.id or None, event.payload.type[:64], payload)
        return None
    row = await conn.fetchrow(
        queries.ingest_message,
        account_id,
        own_user_id,
        event.id or None,
        payload,
        value.chat_id,
        value.chat_type,
        value.id,
        value.author_id,
        value.type,
        message_text(value.type, value.content),
        value.content,
        _time(value.created),
        value.item_id,
    )
    return Ingested(**dict(row))


async def store_other(conn: Conn, account_id: int, kind: str, payload: Any) -> None:
    """A body that decodes as JSON but not as a delivery we understand: kept, never processed."""
    await conn.execute(queries.inbox_store_other, account_id, None, kind[:64], payload)
