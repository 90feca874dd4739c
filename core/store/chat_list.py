"""The messenger's reads: chat rows for the «Бот» / «Мои» tabs (cursor-paged), one chat, a chat's messages.

A row carries what the list draws — buyer, listing, account, operator, last message, unread count — in one
query per page. Callers pass the accounts the user may see; these queries only ever narrow to them.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from core.db import queries
from core.errors import InvalidInput
from core.events import MessageView

Conn = asyncpg.Connection | asyncpg.Pool
Tab = Literal["bot", "mine"]
# «Бот»: chats the bot leads; «Мои»: chats handed to operators.
TAB_MODE: dict[str, str] = {"bot": "bot", "mine": "operator"}


class Buyer(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    avatar_url: str
    profile_url: str


class ItemCard(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    avito_item_id: int
    title: str
    price_text: str
    url: str
    image_url: str


class ChatRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    account_id: int
    account_name: str
    avito_chat_id: str
    chat_type: str
    mode: str
    operator_id: int | None
    operator_name: str | None
    unread_count: int
    last_message_at: datetime | None
    last_message_text: str
    last_message_author: str | None
    buyer: Buyer | None
    item: ItemCard | None


class TabCount(msgspec.Struct, frozen=True, kw_only=True):
    chats: int = 0
    unread: int = 0


class TabCounts(msgspec.Struct, frozen=True, kw_only=True):
    bot: TabCount
    mine: TabCount


class ChatPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[ChatRow]
    next_cursor: str | None
    counts: TabCounts | None = None  # on the first page only


class MessagePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[MessageView]  # oldest first
    has_older: bool
    has_newer: bool


def _row(record: asyncpg.Record) -> ChatRow:
    r = dict(record)
    buyer = None
    if r["buyer_id"] is not None:
        buyer = Buyer(id=r["buyer_id"], name=r["buyer_name"], avatar_url=r["buyer_avatar_url"],
                      profile_url=r["buyer_profile_url"])  # fmt: skip
    item = None
    if r["item_id"] is not None:
        item = ItemCard(id=r["item_id"], avito_item_id=r["avito_item_id"], title=r["item_title"],
                        price_text=r["item_price_text"], url=r["item_url"], image_url=r["item_image_url"])  # fmt: skip
    return ChatRow(
        id=r["id"], account_id=r["account_id"], account_name=r["account_name"], avito_chat_id=r["avito_chat_id"],
        chat_type=r["chat_type"], mode=r["mode"], operator_id=r["operator_id"], operator_name=r["operator_name"],
        unread_count=r["unread_count"], last_message_at=r["last_message_at"],
        last_message_text=r["last_message_text"], last_message_author=r["last_message_author"],
        buyer=buyer, item=item,
    )  # fmt: skip


def _encode_cursor(at: datetime, chat_id: int) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([at.isoformat(), chat_id])).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, chat_id = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), int(chat_id)
    except (ValueError, TypeError, msgspec.DecodeError):
        raise InvalidInput("Неверная ссылка на страницу списка: обновите список чатов.") from None


async def list_chats(
    conn: Conn,
    account_ids: list[int],
    *,
    tab: Tab | None,
    unread: bool = False,
    cursor: str | None = None,
    limit: int = 50,
) -> ChatPage:
    after_at, after_id = _decode_cursor(cursor) if cursor else (None, None)
    mode = TAB_MODE[tab] if tab else None
    records = await conn.fetch(queries.chat_list, account_ids, mode, unread, after_at, after_id, limit + 1)
    rows = [_row(r) for r in records[:limit]]
    next_cursor = None
    if len(records) > limit:
        last = records[limit - 1]
        next_cursor = _encode_cursor(last["activity_at"], last["id"])
    counts = await tab_counts(conn, account_ids) if cursor is None else None
    return ChatPage(items=rows, next_cursor=next_cursor, counts=counts)


async def tab_counts(conn: Conn, account_ids: list[int]) -> TabCounts:
    found = {r["mode"]: TabCount(chats=r["chats"], unread=r["unread"])
             for r in await conn.fetch(queries.chat_tab_counts, account_ids)}  # fmt: skip
    return TabCounts(bot=found.get("bot", TabCount()), mine=found.get("operator", TabCount()))


async def chat_rows(conn: Conn, chat_ids: list[int], account_ids: list[int]) -> list[ChatRow]:
    """The rows of these chats that belong to the given accounts, in the order of ``chat_ids``."""
    found = {r["id"]: _row(r) for r in await conn.fetch(queries.chat_rows, chat_ids, account_ids)}
    return [found[i] for i in chat_ids if i in found]


async def chat_row(conn: Conn, chat_id: int, account_ids: list[int]) -> ChatRow | None:
    rows = await chat_rows(conn, [chat_id], account_ids)
    return rows[0] if rows else None


def _views(records: list[asyncpg.Record]) -> list[MessageView]:
    return [msgspec.convert(dict(r), MessageView) for r in records]


async def messages(
    conn: Conn,
    chat_id: int,
    *,
    limit: int = 50,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
) -> MessagePage:
    """A page of a chat's messages, oldest first: the newest ones, those before or after a message, or those
    around one (a search hit opened in its chat). A message id of another chat yields an empty page."""
    if around is not None:
        older = await conn.fetch(queries.chat_messages_before, chat_id, limit // 2 + 1, around)
        newer = await conn.fetch(queries.chat_messages_after, chat_id, limit - limit // 2 + 1, around, True)
        has_older, has_newer = len(older) > limit // 2, len(newer) > limit - limit // 2
        items = list(reversed(older[: limit // 2])) + newer[: limit - limit // 2]
        return MessagePage(items=_views(items), has_older=has_older, has_newer=has_newer)
    if after is not None:
        newer = await conn.fetch(queries.chat_messages_after, chat_id, limit + 1, after, False)
        return MessagePage(items=_views(newer[:limit]), has_older=True, has_newer=len(newer) > limit)
    if before is not None:
        older = await conn.fetch(queries.chat_messages_before, chat_id, limit + 1, before)
        has_newer = True
    else:
        older = await conn.fetch(queries.chat_messages_latest, chat_id, limit + 1)
        has_newer = False
    return MessagePage(items=_views(list(reversed(older[:limit]))), has_older=len(older) > limit, has_newer=has_newer)


async def mark_read(conn: Conn, chat_id: int) -> int | None:
    """Clears the chat's unread count; its account id when it had any, else None."""
    return await conn.fetchval(queries.chat_mark_read, chat_id)


async def assign_operator(conn: Conn, chat_id: int, user_id: int) -> int | None:
    """Another operator takes a chat already in operator mode; the account id when it changed hands."""
    return await conn.fetchval(queries.chat_assign_operator, chat_id, user_id)
