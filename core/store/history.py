"""An account's past on Avito, stored as history: chats with their listing and buyer, and their messages.

History sync and the polling fallback store chats with :func:`upsert_chat` and old messages with
:func:`store_messages`, which writes no inbox row, so the bot never answers history. A message that should have
reached us as a webhook goes through :func:`core.store.inbox.ingest` instead (see ``AccountSession.poll_unread``).
Both are de-duplicated by Avito's message id, so any of them may run again, or at the same time as webhooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg
import msgspec

from core.avito.payloads import Chat, Message, message_text
from core.db import queries

Conn = asyncpg.Connection | asyncpg.Pool

CHAT_TYPES = ("u2i", "u2u", "a2u")


class StoredChat(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    created: bool


def chat_type(chat: Chat) -> str:
    """u2i / u2u / a2u from the chat id's prefix (``u2i-…``), else from whether it is about a listing."""
    prefix = chat.id.split("-", 1)[0]
    if prefix in CHAT_TYPES:
        return prefix
    return "u2i" if chat.item_id is not None else "u2u"


async def upsert_chat(conn: Conn, account_id: int, account_user_id: int, chat: Chat) -> StoredChat:
    """The chat, its listing and its buyer as Avito's chat list shows them, in one round trip."""
    item = chat.context.value if chat.context else None
    images = (item.images.main if item and item.images else None) or {}
    buyer = chat.other_user(account_user_id)
    profile = buyer.public_user_profile if buyer else None
    avatars = (profile.avatar.images if profile and profile.avatar else None) or {}
    row = await conn.fetchrow(
        queries.history_chat_upsert,
        account_id,
        chat.id,
        chat_type(chat),
        chat.created,
        item.id if item else None,
        item.title if item else "",
        item.price_string if item else "",
        item.url if item else "",
        next(iter(images.values()), ""),
        str(item.status_id if item and item.status_id is not None else ""),
        buyer.id if buyer else None,
        buyer.name if buyer else "",
        avatars.get("128x128") or avatars.get("96x96") or next(iter(avatars.values()), ""),
        profile.url if profile else "",
    )
    return StoredChat(id=row["id"], created=row["created"])


def chronological(messages: Iterable[Message]) -> list[Message]:
    """Oldest first, whichever order Avito answered in (unconfirmed): messages of the same second keep their
    order in time."""
    ordered = list(messages)
    if len(ordered) > 1 and ordered[0].created > ordered[-1].created:
        ordered.reverse()
    return sorted(ordered, key=lambda m: m.created)


def _row(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "author_id": message.author_id,
        "created": message.created,
        "type": message.type,
        "text": message_text(message.type, message.content),
        "content": message.content,
        "quote": message.quote,
        "read": message.read,
    }


async def store_messages(
    conn: Conn, account_id: int, chat_id: int, account_user_id: int, messages: Iterable[Message]
) -> int:
    """Messages of one chat stored as history (no inbox rows); returns how many were not stored before."""
    rows = [_row(m) for m in chronological(messages)]
    if not rows:
        return 0
    return int(await conn.fetchval(queries.history_messages_insert, account_id, chat_id, account_user_id, rows))


async def known_message_ids(conn: Conn, account_id: int, avito_message_ids: list[str]) -> set[str]:
    if not avito_message_ids:
        return set()
    rows = await conn.fetch(queries.history_known_message_ids, account_id, avito_message_ids)
    return {r["avito_message_id"] for r in rows}
