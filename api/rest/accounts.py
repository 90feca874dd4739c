"""The accounts a user may see, which of them they ticked in «Аккаунты (N)», and their messenger switches."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, put
from litestar.params import JSONBody

from api.access import visible_accounts
from api.deps import DbPool
from core.errors import InvalidInput
from core.models import User
from core.store import users
from core.store.accounts import list_accounts


class AccountView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    name: str
    avito_user_id: int
    state: str
    is_sandbox: bool
    selected: bool


class Selection(msgspec.Struct, frozen=True):
    account_ids: list[int] | None  # None: every account the user may see


class PreferencesUpdate(msgspec.Struct, frozen=True, omit_defaults=True):
    sound: bool | None = None
    notifications: bool | None = None


class AccountController(Controller):
    path = "/api/v1"
    tags = ("messenger",)

    @get("/accounts")
    async def list_visible(self, request: Request[User, Any, Any], db_pool: DbPool) -> list[AccountView]:
        visible = set(await visible_accounts(db_pool, request.user))
        selected = await users.selected_accounts(db_pool, request.user.id)
        return [
            AccountView(
                id=a.id,
                name=a.name,
                avito_user_id=a.avito_user_id,
                state=a.state,
                is_sandbox=a.is_sandbox,
                selected=selected is None or a.id in selected,
            )
            for a in await list_accounts(db_pool)
            if a.id in visible
        ]

    @put("/me/selected-accounts")
    async def select(self, request: Request[User, Any, Any], db_pool: DbPool, data: JSONBody[Selection]) -> Selection:
        if data.account_ids is not None:
            unknown = set(data.account_ids) - set(await visible_accounts(db_pool, request.user))
            if unknown:
                raise InvalidInput("Среди выбранных есть недоступные вам аккаунты: обновите страницу и выберите снова.")
            account_ids: list[int] | None = sorted(set(data.account_ids))
        else:
            account_ids = None
        await users.set_selected_accounts(db_pool, request.user.id, account_ids)
        return Selection(account_ids=account_ids)

    @get("/me/preferences")
    async def preferences(self, request: Request[User, Any, Any], db_pool: DbPool) -> users.Preferences:
        return await users.preferences(db_pool, request.user.id)

    @put("/me/preferences")
    async def update_preferences(
        self, request: Request[User, Any, Any], db_pool: DbPool, data: JSONBody[PreferencesUpdate]
    ) -> users.Preferences:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        return await users.update_preferences(db_pool, request.user.id, changes)
