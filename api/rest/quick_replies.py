"""Quick replies behind the lightning icon. Everyone reads the shared ones and those of their accounts; an
operator edits their accounts' replies, only an admin the shared ones."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.access import account_scope, visible_accounts
from api.deps import DbPool
from core.errors import InvalidInput, NotFound
from core.models import User
from core.store import quick_replies as store
from core.store.quick_replies import QuickReply

NOT_FOUND = "Быстрый ответ не найден: обновите список."


class QuickReplyWrite(msgspec.Struct, frozen=True):
    title: str
    text: str
    account_id: int | None = None


class QuickReplyPatch(msgspec.Struct, frozen=True):
    title: str | None = None
    text: str | None = None
    account_id: int | None = -1  # -1: unchanged (None makes the reply shared)


async def _may_edit(db_pool: Any, user: User, account_id: int | None) -> None:
    if account_id is None:
        if user.role != "admin":
            raise InvalidInput("Общие быстрые ответы меняет администратор: выберите аккаунт для своего ответа.")
    elif account_id not in await visible_accounts(db_pool, user):
        raise NotFound("Аккаунт не найден или недоступен вам: выберите другой.")


def _checked(title: str, text: str) -> tuple[str, str]:
    title, text = title.strip(), text.strip()
    if not 1 <= len(title) <= 100:
        raise InvalidInput("Название быстрого ответа — от 1 до 100 символов.")
    if not 1 <= len(text) <= 1000:
        raise InvalidInput("Текст быстрого ответа — от 1 до 1000 символов (лимит сообщения Авито).")
    return title, text


class QuickReplyController(Controller):
    path = "/api/v1/quick-replies"
    tags = ("messenger",)

    @get("/")
    async def list_replies(
        self, request: Request[User, Any, Any], db_pool: DbPool, account_id: FromQuery[list[int] | None] = None
    ) -> list[QuickReply]:
        return await store.list_replies(db_pool, await account_scope(db_pool, request.user, account_id))

    @post("/", status_code=201)
    async def create(
        self, request: Request[User, Any, Any], db_pool: DbPool, data: JSONBody[QuickReplyWrite]
    ) -> QuickReply:
        await _may_edit(db_pool, request.user, data.account_id)
        title, text = _checked(data.title, data.text)
        return await store.create_reply(db_pool, data.account_id, title, text, request.user.id)

    async def _editable(self, db_pool: Any, user: User, reply_id: int) -> QuickReply:
        found = await store.get_reply(db_pool, reply_id)
        visible = await visible_accounts(db_pool, user)
        if found is None or (found.account_id is not None and found.account_id not in visible):
            raise NotFound(NOT_FOUND)
        await _may_edit(db_pool, user, found.account_id)
        return found

    @patch("/{reply_id:int}")
    async def update(
        self,
        request: Request[User, Any, Any],
        db_pool: DbPool,
        reply_id: FromPath[int],
        data: JSONBody[QuickReplyPatch],
    ) -> QuickReply:
        found = await self._editable(db_pool, request.user, reply_id)
        account_id = found.account_id if data.account_id == -1 else data.account_id
        await _may_edit(db_pool, request.user, account_id)
        title, text = _checked(data.title if data.title is not None else found.title,
                               data.text if data.text is not None else found.text)  # fmt: skip
        updated = await store.update_reply(db_pool, reply_id, account_id, title, text)
        if updated is None:
            raise NotFound(NOT_FOUND)
        return updated

    @delete("/{reply_id:int}", status_code=HTTP_204_NO_CONTENT)
    async def remove(self, request: Request[User, Any, Any], db_pool: DbPool, reply_id: FromPath[int]) -> None:
        await self._editable(db_pool, request.user, reply_id)
        await store.delete_reply(db_pool, reply_id)
