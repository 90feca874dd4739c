"""Avito API bodies as msgspec Structs (see /work/shared/AVITO_API.md).

Tolerance is deliberate: every Struct ignores fields it does not know (Avito adds them without notice), most fields
have defaults (the spec marks little as required and real answers omit a lot), and a message's ``content`` stays the
raw JSON object, so a message type this code has never seen is kept whole rather than rejected. Typed views of the
known content shapes are offered by ``Message.typed_content()``.

Ids: Avito user and item ids are int64 (the spec's int32 is wrong for real item ids); chat ids (``u2i-…``) and
message ids are strings. Decoding uses ``strict=False`` so an id sent as a numeric string still lands as an int.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

ChatType = Literal["u2i", "u2u", "a2u"]


# ---- authentication -------------------------------------------------------------------------------------


class TokenResponse(msgspec.Struct, kw_only=True):
    access_token: str
    expires_in: int = 86400
    token_type: str = "Bearer"
    # Present for authorization_code and refresh_token grants; each refresh returns a new one to store.
    refresh_token: str | None = None
    scope: str | None = None


# ---- messenger ------------------------------------------------------------------------------------------


class TextContent(msgspec.Struct, kw_only=True):
    text: str = ""


class ImageContent(msgspec.Struct, kw_only=True):
    # "1280x960" → url, "140x105" → url, …
    sizes: dict[str, str] = {}


class LinkContent(msgspec.Struct, kw_only=True):
    text: str = ""
    url: str = ""
    preview: dict[str, Any] | None = None


class ItemContent(msgspec.Struct, kw_only=True):
    title: str = ""
    price_string: str = ""
    item_url: str = ""
    image_url: str = ""


class LocationContent(msgspec.Struct, kw_only=True):
    lat: float = 0.0
    lon: float = 0.0
    kind: str = ""
    text: str = ""
    title: str = ""


class CallContent(msgspec.Struct, kw_only=True):
    status: str = ""
    target_user_id: int | None = None


class VoiceContent(msgspec.Struct, kw_only=True):
    voice_id: str = ""


TypedContent = TextContent | ImageContent | LinkContent | ItemContent | LocationContent | CallContent | VoiceContent

_CONTENT_TYPES: dict[str, type[msgspec.Struct]] = {
    "text": TextContent,
    "link": LinkContent,
    "item": ItemContent,
    "location": LocationContent,
    "call": CallContent,
    "voice": VoiceContent,
}


def typed_content(message_type: str, content: dict[str, Any]) -> TypedContent | dict[str, Any]:
    """The content as its Struct when the type is known; the raw dict otherwise (system, deleted, file, video…)."""
    if message_type == "image":
        # content.image.sizes — one more level than the other types.
        return msgspec.convert(content.get("image") or {}, ImageContent, strict=False)
    struct = _CONTENT_TYPES.get(message_type)
    if struct is None:
        return content
    return msgspec.convert(content, struct, strict=False)  # type: ignore[return-value]


def message_text(message_type: str, content: dict[str, Any]) -> str:
    """The words a message carries, for storage, search and the chat list's preview: the text of text, link
    and system messages, a listing's title, a location's address; empty for images, voice and the rest."""
    if message_type in ("text", "link", "system"):
        return str(content.get("text") or "")
    if message_type == "item":
        return str(content.get("title") or "")
    if message_type == "location":
        return str(content.get("text") or content.get("title") or "")
    return ""


class Message(msgspec.Struct, kw_only=True):
    id: str
    author_id: int = 0
    created: int = 0
    direction: str = ""  # "in" | "out", seen from the account
    type: str = "text"
    content: dict[str, Any] = {}
    is_read: bool = False
    read: int | None = None
    quote: dict[str, Any] | None = None

    def typed_content(self) -> TypedContent | dict[str, Any]:
        return typed_content(self.type, self.content)

    @property
    def text(self) -> str | None:
        """The text of a text or link message, None for every other type."""
        if self.type in ("text", "link"):
            return str(self.content.get("text", ""))
        return None


class SentMessage(msgspec.Struct, kw_only=True):
    """What send text / send image answer."""

    id: str
    created: int = 0
    direction: str = "out"
    type: str = "text"
    content: dict[str, Any] = {}


class ItemImages(msgspec.Struct, kw_only=True):
    count: int = 0
    main: dict[str, str] = {}


class ItemContextValue(msgspec.Struct, kw_only=True):
    id: int
    title: str = ""
    price_string: str = ""
    url: str = ""
    status_id: int | None = None
    user_id: int | None = None
    images: ItemImages | None = None


class ChatContext(msgspec.Struct, kw_only=True):
    type: str = "item"
    value: ItemContextValue | None = None


class Avatar(msgspec.Struct, kw_only=True):
    default: str | None = None
    images: dict[str, str] = {}


class PublicProfile(msgspec.Struct, kw_only=True):
    user_id: int | None = None
    item_id: int | None = None
    url: str = ""
    avatar: Avatar | None = None


class ChatUser(msgspec.Struct, kw_only=True):
    id: int
    name: str = ""
    public_user_profile: PublicProfile | None = None


class Chat(msgspec.Struct, kw_only=True):
    id: str
    created: int = 0
    updated: int = 0
    context: ChatContext | None = None
    users: list[ChatUser] = []
    last_message: Message | None = None

    @property
    def item_id(self) -> int | None:
        return self.context.value.id if self.context and self.context.value else None

    def other_user(self, account_id: int) -> ChatUser | None:
        """The buyer: the participant who is not the account."""
        return next((user for user in self.users if user.id != account_id), None)


class ChatsPage(msgspec.Struct, kw_only=True):
    chats: list[Chat] = []


class MessagesPage(msgspec.Struct, kw_only=True):
    messages: list[Message] = []


class UploadedImage(msgspec.Struct, kw_only=True):
    image_id: str
    sizes: dict[str, str] = {}


class BlacklistEntry(msgspec.Struct, kw_only=True):
    user_id: int
    item_id: int | None = None
    # 1..4; the meaning of each reason is not documented in the copies of the spec we have.
    reason_id: int = 1


class Subscription(msgspec.Struct, kw_only=True):
    url: str
    version: str = ""


class SubscriptionsPage(msgspec.Struct, kw_only=True):
    subscriptions: list[Subscription] = []


class VoiceFiles(msgspec.Struct, kw_only=True):
    voices_urls: dict[str, str] = {}


# ---- webhook deliveries ---------------------------------------------------------------------------------


class WebhookMessage(msgspec.Struct, kw_only=True):
    id: str
    chat_id: str
    user_id: int  # the account the subscription belongs to
    author_id: int  # the sender; == user_id for the account's own messages (echoes)
    created: int = 0
    type: str = "text"
    chat_type: str = "u2i"
    content: dict[str, Any] = {}
    item_id: int | None = None
    published_at: str | None = None
    read: int | None = None

    @property
    def is_echo(self) -> bool:
        return self.author_id == self.user_id

    def typed_content(self) -> TypedContent | dict[str, Any]:
        return typed_content(self.type, self.content)


class WebhookPayload(msgspec.Struct, kw_only=True):
    type: str = "message"
    value: WebhookMessage | None = None


class WebhookEvent(msgspec.Struct, kw_only=True):
    id: str = ""
    version: str = ""
    timestamp: int = 0
    payload: WebhookPayload


# ---- accounts and items ---------------------------------------------------------------------------------


class Account(msgspec.Struct, kw_only=True):
    id: int
    name: str = ""
    email: str | None = None
    phone: str | None = None
    phones: list[str] = []
    profile_url: str = ""


class ItemCategory(msgspec.Struct, kw_only=True):
    id: int | None = None
    name: str = ""


class Item(msgspec.Struct, kw_only=True):
    id: int
    title: str = ""
    price: float | None = None
    status: str = ""
    url: str = ""
    address: str = ""
    category: ItemCategory | None = None


class ItemsMeta(msgspec.Struct, kw_only=True):
    page: int = 1
    per_page: int = 25


class ItemsPage(msgspec.Struct, kw_only=True):
    meta: ItemsMeta = msgspec.field(default_factory=ItemsMeta)
    resources: list[Item] = []


class ItemInfo(msgspec.Struct, kw_only=True):
    """One item's state; Avito gives no title or price here (take those from the chat context)."""

    status: str = ""
    url: str = ""
    start_time: str | None = None
    finish_time: str | None = None
    autoload_item_id: str | None = None


def decode(data: bytes, type_: type[Any]) -> Any:
    """Decoding with the tolerance this module promises (lax numbers, unknown fields ignored)."""
    return msgspec.json.decode(data, type=type_, strict=False)
