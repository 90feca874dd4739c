"""Search over messages: chats whose messages match what the operator typed, with the matched words' offsets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, get
from litestar.params import FromQuery, QueryParameter

from api.access import account_scope
from api.deps import DbPool
from core.models import User
from core.store import search as store
from core.store.search import SearchPage


class SearchController(Controller):
    path = "/api/v1/search"
    tags = ("messenger",)

    @get("/")
    async def search(
        self,
        request: Request[User, Any, Any],
        db_pool: DbPool,
        q: Annotated[str, QueryParameter(description="Words to find, or the start of a word")] = "",
        mode: FromQuery[Literal["bot", "operator"] | None] = None,
        account_id: Annotated[list[int] | None, QueryParameter(description="Only these accounts")] = None,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=50)] = 20,
    ) -> SearchPage:
        accounts = await account_scope(db_pool, request.user, account_id)
        return await store.search(db_pool, accounts, q, mode=mode, cursor=cursor, limit=limit)
