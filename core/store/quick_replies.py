"""Quick replies: canned answers behind the lightning icon, shared (no account) or one account's own."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from core.db import queries

Conn = asyncpg.Connection | asyncpg.Pool


class QuickReply(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    account_id: int | None
    title: str
    text: str  # may hold {buyer_name}, {item_title}, {item_price}, {account_name}, {operator_name}
    created_at: datetime
    updated_at: datetime


def _reply(record: asyncpg.Record | None) -> QuickReply | None:
    return None if record is None else msgspec.convert(dict(record), QuickReply)


async def list_replies(conn: Conn, account_ids: list[int]) -> list[QuickReply]:
    return [msgspec.convert(dict(r), QuickReply) for r in await conn.fetch(queries.quick_reply_list, account_ids)]


async def get_reply(conn: Conn, reply_id: int) -> QuickReply | None:
    return _reply(await conn.fetchrow(queries.quick_reply_get, reply_id))


async def create_reply(conn: Conn, account_id: int | None, title: str, text: str, user_id: int) -> QuickReply:
    created = _reply(await conn.fetchrow(queries.quick_reply_insert, account_id, title, text, user_id))
    assert created is not None
    return created


async def update_reply(conn: Conn, reply_id: int, account_id: int | None, title: str, text: str) -> QuickReply | None:
    return _reply(await conn.fetchrow(queries.quick_reply_update, reply_id, account_id, title, text))


async def delete_reply(conn: Conn, reply_id: int) -> None:
    await conn.execute(queries.quick_reply_delete, reply_id)
