"""Chats as the live path reads and writes them: a session's context, bot turns, the outbox, mode switches."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

from core.db import queries
from core.events import MessageView
from graphs.compiler import TurnResult

Conn = asyncpg.Connection | asyncpg.Pool

_ROLES = {"client": "buyer", "bot": "bot", "operator": "operator", "system": "system"}


class ChatContext(msgspec.Struct, frozen=True, kw_only=True):
    """What a chat session knows before a turn; re-read each time so a mode switch is obeyed at once."""

    id: int
    account_id: int
    avito_chat_id: str
    chat_type: str
    mode: str
    operator_id: int | None
    session_state: dict[str, Any]
    account_user_id: int
    scenario_id: str
    scenario_version: int | None
    has_item: bool
    has_buyer: bool
    avito_item_id: int | None
    item_title: str | None
    item_price: float | None
    item_price_text: str | None
    item_url: str | None
    buyer_name: str | None

    @property
    def item(self) -> dict[str, Any] | None:
        if self.avito_item_id is None:
            return None
        return {"id": self.avito_item_id, "title": self.item_title or "", "price": self.item_price,
                "price_text": self.item_price_text or "", "url": self.item_url or ""}  # fmt: skip

    @property
    def buyer(self) -> dict[str, Any] | None:
        return {"name": self.buyer_name} if self.buyer_name else None


class ModeChange(msgspec.Struct, frozen=True, kw_only=True):
    chat_id: int
    account_id: int
    from_mode: str
    to_mode: str
    reason: str
    operator_id: int | None


class Outbound(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    part: int
    text: str
    status: str
    avito_message_id: str | None
    created_at: datetime


async def load_chat(conn: Conn, chat_id: int) -> ChatContext | None:
    row = await conn.fetchrow(queries.chat_session_load, chat_id)
    if row is None:
        return None
    values = dict(row)
    if isinstance(values["item_price"], Decimal):
        values["item_price"] = float(values["item_price"])
    return msgspec.convert(values, ChatContext)


def _history(kinds: list[str], types: list[str], texts: list[str | None], ats: list[datetime]) -> list[dict[str, Any]]:
    """Newest-first message columns → the scenario's ``history``, oldest first."""
    return [
        {"role": _ROLES.get(kind, kind), "text": text or f"[{type_}]", "at": at.isoformat()}
        for kind, type_, text, at in reversed(list(zip(kinds, types, texts, ats, strict=True)))
    ]


class PendingRow(msgspec.Struct, frozen=True, kw_only=True):
    """A buyer's message waiting for its turn: its inbox row and the message."""

    inbox_id: int
    attempts: int
    message_id: int
    type: str
    text: str
    content: dict[str, Any]
    created_at: datetime


class NextTurn(msgspec.Struct, frozen=True, kw_only=True):
    """What `next_turn` reads in one round trip before a turn."""

    row: PendingRow
    more: bool  # another unprocessed row of the chat waits behind this one
    chat: ChatContext
    history: list[dict[str, Any]]
    recorded: bool  # the inbox row already has its turn (a re-dispatch after a crash)
    recorded_handoff: bool


async def next_turn(conn: Conn, chat_id: int, after: int = 0, history_limit: int = 10) -> NextTurn | None:
    """The chat's first unprocessed row after inbox row ``after`` with `load_chat`, the recorded turn and the
    history before it, in one query; None when nothing (more) is pending or the chat is gone."""
    found = await conn.fetchrow(queries.chat_next_turn, chat_id, after, history_limit)
    if found is None:
        return None
    values = dict(found)
    row = PendingRow(**{name: values.pop(f"row_{name}") for name in PendingRow.__struct_fields__})
    more, recorded, handoff = values.pop("more"), values.pop("turn_id") is not None, bool(values.pop("turn_handoff"))
    columns = [values.pop(f"history_{name}") or [] for name in ("author_kinds", "types", "texts", "created_ats")]
    if isinstance(values["item_price"], Decimal):
        values["item_price"] = float(values["item_price"])
    return NextTurn(row=row, more=more, chat=msgspec.convert(values, ChatContext), history=_history(*columns),
                    recorded=recorded, recorded_handoff=handoff)  # fmt: skip


def _price(price_string: str) -> Decimal | None:
    digits = "".join(ch for ch in price_string if ch.isdigit())
    return Decimal(digits) if digits else None


async def set_details(conn: Conn, context: ChatContext, chat: dict[str, Any]) -> bool:
    """Fills the chat's listing and buyer from Avito's chat answer; True if anything was learnt."""
    item: tuple[Any, ...] = (None,) * 7
    buyer: tuple[Any, ...] = (None,) * 4
    value = ((chat.get("context") or {}).get("value")) or None
    if value and value.get("id"):
        images = (value.get("images") or {}).get("main") or {}
        price_text = value.get("price_string") or ""
        item = (int(value["id"]), value.get("title") or "", _price(price_text), price_text, value.get("url") or "",
                next(iter(images.values()), ""), str(value.get("status_id") or ""))  # fmt: skip
    for user in chat.get("users") or []:
        if int(user.get("id") or 0) == context.account_user_id:
            continue
        profile = user.get("public_user_profile") or {}
        avatar = (profile.get("avatar") or {}).get("images") or {}
        buyer = (int(user["id"]), user.get("name") or "",
                 avatar.get("128x128") or avatar.get("96x96") or next(iter(avatar.values()), ""),
                 profile.get("url") or "")  # fmt: skip
        break
    if item[0] is None and buyer[0] is None:
        return False
    await conn.execute(queries.chat_set_details, context.id, context.account_id, *item, *buyer)
    return True


async def set_mode(conn: Conn, chat_id: int, mode: str, reason: str, user_id: int | None = None) -> ModeChange | None:
    """Switches the chat's mode and logs why; None when it already was in that mode."""
    row = await conn.fetchrow(queries.chat_set_mode, chat_id, mode, reason, user_id)
    if row is None:
        return None
    return ModeChange(chat_id=chat_id, account_id=row["account_id"], from_mode=row["from_mode"], to_mode=mode,
                      reason=reason, operator_id=row["operator_id"])  # fmt: skip


async def is_our_message(conn: Conn, account_id: int, avito_message_id: str) -> bool:
    return bool(await conn.fetchval(queries.outbound_known, account_id, avito_message_id))


class RecordedTurn(msgspec.Struct, frozen=True, kw_only=True):
    mode: str  # the chat's mode when the turn was recorded (the reply is queued only in bot mode)
    recorded: bool  # False: the row already had its turn, nothing was written
    outbound: list[Outbound]  # the reply's parts, queued as pending
    mode_change: ModeChange | None  # the handoff's switch to operator mode


async def record_bot_turn(
    conn: Conn,
    context: ChatContext,
    inbox_id: int,
    message_id: int,
    scenario_version: int,
    result: TurnResult,
    parts: list[str],
) -> RecordedTurn:
    """`record_turn`'s writes, the mode check before them and the handoff after them, as one call in one
    transaction (the ``bot_turn_record`` statement): parts are queued only while the chat is in bot mode."""
    state = result.state
    documents = state.get("documents") or []
    models = [e.get("model") for e in result.trace if e.get("model")]
    session_state = {
        **context.session_state,
        "clarify_count": int(state.get("clarify_count") or 0),
        "last_intent": state.get("intent"),
    }
    row = await conn.fetchrow(
        queries.bot_turn_record,
        context.account_id,
        context.id,
        inbox_id,
        message_id,
        context.scenario_id,
        scenario_version,
        result.engine,
        state.get("intent"),
        state.get("intent_confidence"),
        state.get("confidence"),
        state.get("route"),
        result.handoff,
        result.reply,
        [d.get("external_id") or "" for d in documents],
        [{k: d.get(k) for k in ("external_id", "title", "score", "passage")} for d in documents],
        result.trace,
        models[-1] if models else None,
        sum(int(e.get("tokens_in") or 0) for e in result.trace),
        sum(int(e.get("tokens_out") or 0) for e in result.trace),
        result.latency_ms,
        parts,
        session_state,
    )
    if row is None:
        raise LookupError(f"chat {context.id} was deleted while its turn ran")
    queued_at = datetime.now(UTC)
    outbound = [Outbound(id=id_, part=n, text=text, status="pending", avito_message_id=None, created_at=queued_at)
                for n, (id_, text) in enumerate(zip(row["outbound_ids"], parts, strict=False))]  # fmt: skip
    change = None
    if row["mode_change"] is not None:
        change = ModeChange(chat_id=context.id, account_id=context.account_id, from_mode="bot", to_mode="operator",
                            reason="handoff_node", operator_id=row["operator_id"])  # fmt: skip
    return RecordedTurn(mode=row["mode"], recorded=row["turn_id"] is not None, outbound=outbound, mode_change=change)


async def outbound_of(conn: Conn, inbox_id: int) -> list[Outbound]:
    return [msgspec.convert(dict(r), Outbound) for r in await conn.fetch(queries.outbound_of_inbox, inbox_id)]


async def store_sent(conn: Conn, outbound_id: int, avito_message_id: str, author_id: int, created: int) -> int:
    """Avito took the message: it is stored (unless its echo was first) and the outbound row marked sent."""
    at = datetime.fromtimestamp(created, UTC) if created > 0 else datetime.now(UTC)
    return await conn.fetchval(queries.outbound_store_sent, outbound_id, avito_message_id, author_id, at, None)


async def store_sent_view(
    conn: Conn, outbound_id: int, avito_message_id: str, author_id: int, created: int, *, finishes: int | None = None
) -> MessageView:
    """`store_sent`, answering with the stored message as `message_view` shows it (one round trip, not two);
    ``finishes``: the inbox row this part is the last of the reply to, marked processed in the same transaction."""
    at = datetime.fromtimestamp(created, UTC) if created > 0 else datetime.now(UTC)
    row = await conn.fetchrow(queries.outbound_store_sent, outbound_id, avito_message_id, author_id, at, finishes)
    values = dict(row)
    values["id"] = values.pop("message_id")
    del values["inserted"]
    return msgspec.convert(values, MessageView)


async def outbound_failed(conn: Conn, outbound_id: int, error: str, *, final: bool) -> None:
    await conn.execute(queries.outbound_mark_failed, outbound_id, error, final)


async def message_view(conn: Conn, message_id: int) -> MessageView:
    row = await conn.fetchrow(queries.message_view, message_id)
    return msgspec.convert(dict(row), MessageView)


async def mark_processed(conn: Conn, inbox_id: int) -> None:
    await conn.execute(queries.inbox_mark_processed, inbox_id)


async def mark_failed(conn: Conn, inbox_id: int, error: str) -> None:
    await conn.execute(queries.inbox_mark_failed, inbox_id, error)


async def pending_chats(conn: Conn, *, limit: int, older_than: float) -> list[int]:
    return [r["chat_id"] for r in await conn.fetch(queries.inbox_pending_chats, limit, older_than)]
