"""Which accounts a request may touch: the user's visible accounts, narrowed by what they ticked or asked for.

Every messenger route goes through here, so REST, search and (through the same store function) Socket.io rooms
draw the line in one place: an operator only ever sees the accounts granted to them.
"""

from __future__ import annotations

import asyncpg

from core.errors import NotFound
from core.models import User
from core.store.accounts import visible_account_ids
from core.store.chat_list import ChatRow, chat_row
from core.store.users import selected_accounts

CHAT_NOT_FOUND = "Чат не найден или у вас нет к нему доступа. Обновите список чатов."


async def visible_accounts(pool: asyncpg.Pool, user: User) -> list[int]:
    return await visible_account_ids(pool, user.id, user.role)


async def account_scope(pool: asyncpg.Pool, user: User, requested: list[int] | None = None) -> list[int]:
    """The accounts to show: those asked for (``account_id`` filters) or else those ticked in «Аккаунты (N)»,
    never beyond what the user may see."""
    visible = await visible_accounts(pool, user)
    wanted = requested if requested else await selected_accounts(pool, user.id)
    if wanted is None:
        return visible
    allowed = set(wanted)
    return [a for a in visible if a in allowed]


async def visible_chat(pool: asyncpg.Pool, user: User, chat_id: int) -> ChatRow:
    """The chat if the user may see it; otherwise 404 — not 403, so chat ids of other accounts are not probed."""
    found = await chat_row(pool, chat_id, await visible_accounts(pool, user))
    if found is None:
        raise NotFound(CHAT_NOT_FOUND)
    return found
