"""The messenger's chats: the «Бот» / «Мои» lists, one chat, its messages, and what an operator does in it
(send text or an image, take it or hand it back, mark it read, play a voice message)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.access import account_scope, visible_chat
from api.deps import DbPool
from core import operator as actions
from core.events import MessageView
from core.models import User
from core.store import chat_list
from core.store.accounts import get_account
from core.store.chat_list import ChatPage, ChatRow, MessagePage

MAX_IMAGE_REQUEST = actions.MAX_IMAGE_BYTES + 64 * 1024  # the file plus the multipart envelope


class SendText(msgspec.Struct, frozen=True):
    text: str
    request_id: str


class Sent(msgspec.Struct, frozen=True):
    messages: list[MessageView]


class ModeSwitch(msgspec.Struct, frozen=True):
    mode: Literal["bot", "operator"]


class VoiceUrl(msgspec.Struct, frozen=True):
    url: str


@dataclass
class ImageUpload:
    file: UploadFile
    request_id: str = ""


def _operator(user: User) -> actions.Operator:
    return actions.Operator(user.id, user.display_name)


class ChatController(Controller):
    path = "/api/v1/chats"
    tags = ("messenger",)

    @get("/")
    async def list_chats(
        self,
        request: Request[User, Any, Any],
        db_pool: DbPool,
        tab: FromQuery[Literal["bot", "mine"] | None] = None,
        account_id: Annotated[list[int] | None, QueryParameter(description="Only these accounts")] = None,
        unread: FromQuery[bool] = False,
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> ChatPage:
        accounts = await account_scope(db_pool, request.user, account_id)
        return await chat_list.list_chats(db_pool, accounts, tab=tab, unread=unread, cursor=cursor, limit=limit)

    @get("/{chat_id:int}")
    async def get_chat(self, request: Request[User, Any, Any], db_pool: DbPool, chat_id: FromPath[int]) -> ChatRow:
        return await visible_chat(db_pool, request.user, chat_id)

    @get("/{chat_id:int}/messages")
    async def messages(
        self,
        request: Request[User, Any, Any],
        db_pool: DbPool,
        chat_id: FromPath[int],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        before: FromQuery[int | None] = None,
        after: FromQuery[int | None] = None,
        around: FromQuery[int | None] = None,
    ) -> MessagePage:
        await visible_chat(db_pool, request.user, chat_id)
        return await chat_list.messages(db_pool, chat_id, limit=limit, before=before, after=after, around=around)

    @post("/{chat_id:int}/messages", status_code=201)
    async def send_text(
        self, request: Request[User, Any, Any], db_pool: DbPool, chat_id: FromPath[int], data: JSONBody[SendText]
    ) -> Sent:
        chat = await visible_chat(db_pool, request.user, chat_id)
        state = request.app.state
        views = await actions.send_text(
            db_pool, state.accounts, state.publisher, _operator(request.user), chat, data.text, data.request_id
        )
        return Sent(messages=views)

    @post("/{chat_id:int}/images", status_code=201, request_max_body_size=MAX_IMAGE_REQUEST)
    async def send_image(
        self,
        request: Request[User, Any, Any],
        db_pool: DbPool,
        chat_id: FromPath[int],
        data: MultipartBody[ImageUpload],
    ) -> Sent:
        chat = await visible_chat(db_pool, request.user, chat_id)
        state = request.app.state
        body = await data.file.read()
        # Without the browser's id a retry cannot be recognised; the send still goes, once per request.
        request_id = data.request_id or f"image-{uuid.uuid4().hex}"
        view = await actions.send_image(
            db_pool, state.accounts, state.publisher, _operator(request.user), chat, body, data.file.filename,
            request_id,
        )  # fmt: skip
        return Sent(messages=[view])

    @post("/{chat_id:int}/mode", status_code=200)
    async def switch_mode(
        self, request: Request[User, Any, Any], db_pool: DbPool, chat_id: FromPath[int], data: JSONBody[ModeSwitch]
    ) -> ChatRow:
        chat = await visible_chat(db_pool, request.user, chat_id)
        account = await get_account(db_pool, chat.account_id)
        notice = str(account.settings.get("handoff_notice") or "")
        state = request.app.state
        await actions.set_mode(
            db_pool, state.accounts, state.publisher, _operator(request.user), chat, data.mode, notice
        )
        return await visible_chat(db_pool, request.user, chat_id)

    @post("/{chat_id:int}/read", status_code=HTTP_204_NO_CONTENT)
    async def mark_read(self, request: Request[User, Any, Any], db_pool: DbPool, chat_id: FromPath[int]) -> None:
        chat = await visible_chat(db_pool, request.user, chat_id)
        await actions.mark_read(db_pool, request.app.state.accounts, request.app.state.publisher, chat)

    @get("/{chat_id:int}/voice/{voice_id:str}")
    async def voice(
        self, request: Request[User, Any, Any], db_pool: DbPool, chat_id: FromPath[int], voice_id: FromPath[str]
    ) -> VoiceUrl:
        chat = await visible_chat(db_pool, request.user, chat_id)
        return VoiceUrl(url=await actions.voice_url(request.app.state.accounts, chat, voice_id))
