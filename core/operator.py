"""What an operator does to a chat: send text or an image, take it from the bot or hand it back, read it.

Each action writes first, publishes its events after the write committed, and talks to Avito through the
account's actor (`actors.registry.Accounts`) — the same token and rate limit the bot's replies use. Sends follow
the outbox protocol of the live path: the outbound row is written `pending` under the browser's request id
before the Avito call and marked `sent` with Avito's id after it, so a retried request never sends twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import asyncpg
import msgspec

from core.avito.client import MAX_TEXT_LENGTH  # Avito's limit for one message; longer texts go as several
from core.db import queries
from core.errors import AvitoUnavailable, Conflict, InvalidInput, TooLarge, UnsupportedMedia
from core.events import ChatRead, ChatUpdated, MessageNew, MessageView, ModeChanged, Publisher
from core.store import chat_list
from core.store import chats as chat_store
from core.store.chat_list import ChatRow

if TYPE_CHECKING:
    from actors.registry import Accounts

log = logging.getLogger(__name__)

MAX_OPERATOR_TEXT = 4000
MAX_IMAGE_BYTES = 24 * 1024 * 1024  # Avito's upload limit
# Avito takes JPEG, HEIC, GIF, BMP and PNG; the type is read from the file's first bytes, not its name.
IMAGE_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "png"),
    (b"GIF87a", 0, "image/gif", "gif"),
    (b"GIF89a", 0, "image/gif", "gif"),
    (b"BM", 0, "image/bmp", "bmp"),
    (b"ftypheic", 4, "image/heic", "heic"),
    (b"ftypheix", 4, "image/heic", "heic"),
    (b"ftypmif1", 4, "image/heic", "heic"),
)
AVITO_FAILED = "Авито не принял сообщение ({error}). Проверьте соединение и повторите через минуту."


class Operator(msgspec.Struct, frozen=True):
    """Who acts: the user's id and display name."""

    id: int
    name: str


def image_type(data: bytes) -> tuple[str, str]:
    """(content type, extension) of an image Avito accepts; raises for anything else."""
    if len(data) > MAX_IMAGE_BYTES:
        raise TooLarge("Файл больше 24 МБ: Авито не примет его. Уменьшите изображение и отправьте снова.")
    for signature, offset, content_type, extension in IMAGE_SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return content_type, extension
    raise UnsupportedMedia("Это не изображение, которое принимает Авито: отправьте JPEG, PNG, GIF, BMP или HEIC.")


async def _existing(pool: asyncpg.Pool, chat: ChatRow, request_id: str) -> list[MessageView] | None:
    """The messages of a send already made under this request id (a retry), or None if there was none."""
    row = await pool.fetchrow(queries.outbound_by_request, chat.account_id, request_id)
    if row is None:
        return None
    if row["status"] == "sent" and row["message_id"] is not None:
        return [await chat_store.message_view(pool, row["message_id"])]
    if row["status"] == "pending":
        raise Conflict("Это сообщение ещё отправляется. Подождите несколько секунд.")
    raise AvitoUnavailable(AVITO_FAILED.format(error=row["last_error"] or "ошибка") + " Отправьте его заново.")


async def _deliver(
    pool: asyncpg.Pool, publisher: Publisher, chat: ChatRow, outbound_id: int, sent_id: str, created: int
) -> MessageView:
    account_user_id = await pool.fetchval(queries.chat_account_user, chat.id)
    message_id = await chat_store.store_sent(pool, outbound_id, sent_id, account_user_id, created)
    view = await chat_store.message_view(pool, message_id)
    await publisher.publish(
        MessageNew(account_id=chat.account_id, chat_id=chat.id, message=view),
        ChatUpdated(account_id=chat.account_id, chat_id=chat.id),
    )
    return view


async def send_text(
    pool: asyncpg.Pool,
    accounts: Accounts,
    publisher: Publisher,
    operator: Operator,
    chat: ChatRow,
    text: str,
    request_id: str,
) -> list[MessageView]:
    """Sends an operator's text, split into parts of Avito's 1000 characters; safe to retry with the same id."""
    from actors.account import split_reply

    text = text.strip()
    if not text:
        raise InvalidInput("Сообщение пустое: напишите текст.")
    if len(text) > MAX_OPERATOR_TEXT:
        raise InvalidInput(f"Сообщение длиннее {MAX_OPERATOR_TEXT} символов: сократите его или разбейте на части.")
    if not 1 <= len(request_id) <= 100:
        raise InvalidInput("Не хватает идентификатора отправки: обновите страницу и повторите.")
    views: list[MessageView] = []
    for number, part in enumerate(split_reply(text, MAX_TEXT_LENGTH)):
        key = request_id if number == 0 else f"{request_id}:{number}"
        outbound_id = await pool.fetchval(
            queries.outbound_insert_operator, chat.account_id, chat.id, "text", part, None, "operator", operator.id, key
        )
        if outbound_id is None:
            views.extend(await _existing(pool, chat, key) or [])
            continue
        try:
            sent = (await accounts.send_text(chat.account_id, chat.avito_chat_id, part))[0]
        except Exception as exc:  # whatever Avito (or the hop to its actor) answered, the operator may retry
            log.warning("operator send to chat %s failed: %s", chat.id, exc)
            await chat_store.outbound_failed(pool, outbound_id, str(exc), final=True)
            raise AvitoUnavailable(AVITO_FAILED.format(error=_short(exc))) from None
        views.append(await _deliver(pool, publisher, chat, outbound_id, sent.id, sent.created))
    return views


async def send_image(
    pool: asyncpg.Pool,
    accounts: Accounts,
    publisher: Publisher,
    operator: Operator,
    chat: ChatRow,
    data: bytes,
    filename: str,
    request_id: str,
) -> MessageView:
    """Uploads an image to Avito and sends it to the chat."""
    content_type, extension = image_type(data)
    if not 1 <= len(request_id) <= 100:
        raise InvalidInput("Не хватает идентификатора отправки: обновите страницу и повторите.")
    if (found := await _existing(pool, chat, request_id)) is not None:
        return found[0]
    try:
        uploaded = await accounts.upload_image(chat.account_id, data, filename or f"image.{extension}", content_type)
    except Exception as exc:
        log.warning("image upload for chat %s failed: %s", chat.id, exc)
        raise AvitoUnavailable(AVITO_FAILED.format(error=_short(exc))) from None
    outbound_id = await pool.fetchval(
        queries.outbound_insert_operator, chat.account_id, chat.id, "image", "", uploaded, "operator", operator.id,
        request_id,
    )  # fmt: skip
    if outbound_id is None:  # a concurrent retry of the same request got there first
        return (await _existing(pool, chat, request_id) or [])[0]
    try:
        sent = await accounts.send_image(chat.account_id, chat.avito_chat_id, uploaded["image_id"])
    except Exception as exc:
        log.warning("image send to chat %s failed: %s", chat.id, exc)
        await chat_store.outbound_failed(pool, outbound_id, str(exc), final=True)
        raise AvitoUnavailable(AVITO_FAILED.format(error=_short(exc))) from None
    return await _deliver(pool, publisher, chat, outbound_id, sent.id, sent.created)


async def set_mode(
    pool: asyncpg.Pool,
    accounts: Accounts,
    publisher: Publisher,
    operator: Operator,
    chat: ChatRow,
    mode: str,
    notice: str = "",
) -> None:
    """Takes the chat from the bot (it becomes the operator's) or hands it back. The session re-reads the mode
    before every turn, so the bot is silent from the next message on. Taking a chat marks it read on Avito and,
    when the account's settings hold a ``handoff_notice``, tells the buyer a person will answer."""
    if mode not in ("bot", "operator"):
        raise InvalidInput("Режим чата — «bot» или «operator».")
    change = await chat_store.set_mode(pool, chat.id, mode, "operator", operator.id)
    if change is not None:
        await publisher.publish(
            ModeChanged(account_id=chat.account_id, chat_id=chat.id, mode=mode, reason="operator",
                        operator_id=change.operator_id),
            ChatUpdated(account_id=chat.account_id, chat_id=chat.id),
        )  # fmt: skip
    elif mode == "operator" and await chat_list.assign_operator(pool, chat.id, operator.id) is not None:
        await publisher.publish(
            ModeChanged(account_id=chat.account_id, chat_id=chat.id, mode=mode, reason="operator",
                        operator_id=operator.id),
            ChatUpdated(account_id=chat.account_id, chat_id=chat.id),
        )  # fmt: skip
    if mode == "operator":
        await mark_read(pool, accounts, publisher, chat)
        if change is not None and notice:
            await _send_notice(pool, accounts, publisher, chat, notice, change_key=f"handoff-notice:{chat.id}")


async def _send_notice(
    pool: asyncpg.Pool, accounts: Accounts, publisher: Publisher, chat: ChatRow, text: str, change_key: str
) -> None:
    """The account's «Вам ответит менеджер»: sent by the service, not by the operator; a failure is logged, as
    the takeover itself has happened."""
    key = f"{change_key}:{await pool.fetchval(queries.chat_last_takeover, chat.id)}"
    text = text[:MAX_TEXT_LENGTH]
    outbound_id = await pool.fetchval(
        queries.outbound_insert_operator, chat.account_id, chat.id, "text", text, None, "bot", None, key
    )
    if outbound_id is None:
        return
    try:
        sent = (await accounts.send_text(chat.account_id, chat.avito_chat_id, text))[0]
    except Exception as exc:
        log.warning("handoff notice to chat %s failed: %s", chat.id, exc)
        await chat_store.outbound_failed(pool, outbound_id, str(exc), final=True)
        return
    await _deliver(pool, publisher, chat, outbound_id, sent.id, sent.created)


async def mark_read(pool: asyncpg.Pool, accounts: Accounts, publisher: Publisher, chat: ChatRow) -> None:
    """Nothing unread here any more, and Avito is told so (a failure there is logged: the local state is right
    and the next read retries it)."""
    if await chat_list.mark_read(pool, chat.id) is not None:
        await publisher.publish(ChatRead(account_id=chat.account_id, chat_id=chat.id))
    try:
        await accounts.mark_read(chat.account_id, chat.avito_chat_id)
    except Exception as exc:
        log.warning("marking chat %s read on Avito failed: %s", chat.id, exc)


async def voice_url(accounts: Accounts, chat: ChatRow, voice_id: str) -> str:
    try:
        urls = await accounts.voice_urls(chat.account_id, [voice_id])
    except Exception as exc:
        log.warning("voice url for chat %s failed: %s", chat.id, exc)
        raise AvitoUnavailable("Авито не отдал голосовое сообщение. Повторите через минуту.") from None
    if voice_id not in urls:
        raise InvalidInput("Авито не знает такого голосового сообщения: обновите чат.")
    return urls[voice_id]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
