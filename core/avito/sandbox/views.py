"""What Avito answers: the state read back as Avito's chats, messages and users (a mixin of ``SandboxState``)."""

from __future__ import annotations

import threading
from typing import Any

from core.avito.sandbox.config import SandboxAccount, SandboxConfig
from core.avito.sandbox.content import price_string
from core.avito.sandbox.errors import ApiError
from core.avito.sandbox.images import AVATAR_SIZES, ITEM_SIZES
from core.avito.sandbox.models import SbChat, SbItem, SbMessage


class AvitoViews:
    """Avito's answers about accounts, chats and messages (mixed into ``SandboxState``, which holds the data)."""

    config: SandboxConfig
    public_url: str
    _lock: threading.RLock
    accounts: dict[int, SandboxAccount]
    items: dict[int, SbItem]
    chats: dict[str, SbChat]

    def _account(self, account_id: int) -> SandboxAccount:
        account = self.accounts.get(account_id)
        if account is None:
            raise ApiError(404, f"no account {account_id}")
        return account

    def _chat(self, account_id: int, chat_id: str) -> SbChat:
        chat = self.chats.get(chat_id)
        if chat is None or chat.account_id != account_id:
            raise ApiError(404, "Chat not found")
        return chat

    def image_sizes(self, kind: str, key: int | str, sizes: tuple[int, ...] = ITEM_SIZES) -> dict[str, str]:
        return {f"{s}x{s}": f"{self.public_url}/sandbox/images/{kind}/{key}/{s}.png" for s in sizes}

    def item_url(self, item: SbItem) -> str:
        return f"https://www.avito.ru/kazan/velosipedy/item_{item.id}"

    def _user_view(self, user_id: int, name: str, item_id: int | None) -> dict[str, Any]:
        images = self.image_sizes("avatars", user_id, AVATAR_SIZES)
        return {
            "id": user_id,
            "name": name,
            "public_user_profile": {
                "user_id": user_id,
                "item_id": item_id,
                "url": f"https://www.avito.ru/user/{user_id}/profile",
                "avatar": {"default": images["128x128"], "images": images},
            },
        }

    def message_view(self, chat: SbChat, message: SbMessage) -> dict[str, Any]:
        return {
            "id": message.id,
            "author_id": message.author_id,
            "created": message.created,
            "direction": "out" if message.author_id == chat.account_id else "in",
            "type": message.type,
            "content": message.content,
            "is_read": message.read is not None,
            "read": message.read,
            "quote": None,
        }

    def chat_view(self, chat: SbChat) -> dict[str, Any]:
        account = self.accounts[chat.account_id]
        view: dict[str, Any] = {
            "id": chat.id,
            "created": chat.created,
            "updated": chat.updated,
            "users": [
                self._user_view(account.user_id, account.name, None),
                self._user_view(chat.buyer.id, chat.buyer.name, None),
            ],
            "last_message": self.message_view(chat, chat.messages[-1]) if chat.messages else None,
        }
        if chat.item_id is not None:
            item = self.items[chat.item_id]
            view["context"] = {
                "type": "item",
                "value": {
                    "id": item.id,
                    "title": item.title,
                    "price_string": price_string(item.price),
                    "url": self.item_url(item),
                    "status_id": 0 if item.status == "active" else 1,
                    "user_id": item.account_id,
                    "images": {"count": 1, "main": self.image_sizes("items", item.id, (140,))},
                },
            }
        return view

    def list_chats(
        self,
        account_id: int,
        *,
        item_ids: set[int] | None,
        unread_only: bool,
        chat_types: set[str],
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        with self._lock:
            chats = [
                chat
                for chat in self.chats.values()
                if chat.account_id == account_id
                and chat.chat_type in chat_types
                and (not item_ids or chat.item_id in item_ids)
                and (not unread_only or self._unread(chat))
            ]
            chats.sort(key=lambda c: (c.updated, c.created), reverse=True)
            return [self.chat_view(chat) for chat in chats[offset : offset + limit]]

    def _unread(self, chat: SbChat) -> bool:
        return any(m.read is None and m.author_id != chat.account_id for m in chat.messages)

    def get_chat(self, account_id: int, chat_id: str) -> dict[str, Any]:
        with self._lock:
            return self.chat_view(self._chat(account_id, chat_id))

    def list_messages(self, account_id: int, chat_id: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
        with self._lock:
            chat = self._chat(account_id, chat_id)
            ordered = chat.messages[::-1] if self.config.messages_order == "newest_first" else chat.messages
            return [self.message_view(chat, m) for m in ordered[offset : offset + limit]]

    def chat_history(self, chat_id: str) -> list[dict[str, Any]]:
        """Control view: every message of a chat as the account sees it, oldest first."""
        with self._lock:
            chat = self.chats.get(chat_id)
            if chat is None:
                raise ApiError(404, "Chat not found")
            return [self.message_view(chat, m) for m in chat.messages]

    def chats_of(self, account_id: int) -> list[SbChat]:
        with self._lock:
            return [chat for chat in self.chats.values() if chat.account_id == account_id]
