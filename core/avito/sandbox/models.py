"""The sandbox's records: items, users, chats and messages as Avito holds them, and what happened (webhook
deliveries, API calls) for assertions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class SbItem:
    id: int
    account_id: int
    title: str
    price: int
    status: str = "active"
    created: float = field(default_factory=time.time)


@dataclass(slots=True)
class SbUser:
    id: int
    name: str


@dataclass(slots=True)
class SbMessage:
    id: str
    author_id: int
    created: int
    type: str
    content: dict[str, Any]
    read: int | None = None  # when the recipient read it


@dataclass(slots=True)
class SbChat:
    id: str
    account_id: int
    buyer: SbUser
    item_id: int | None
    created: int
    updated: int
    messages: list[SbMessage] = field(default_factory=list)

    @property
    def chat_type(self) -> str:
        return "u2i" if self.item_id is not None else "u2u"


@dataclass(slots=True)
class Delivery:
    url: str
    event_id: str
    message_id: str
    attempt: int  # 1, 2, … within one copy
    copy: int  # 0 for the delivery, 1 for a duplicate
    status: int  # HTTP status, 0 when the request failed (refused, timeout)
    at: float
    dropped: bool = False  # lost on purpose (``webhook_drop_probability``): never sent, never retried


@dataclass(slots=True)
class RecordedCall:
    method: str
    path: str
    status: int
    at: float
