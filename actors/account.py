"""One Avito account's connection: its token, its rate limit, and every call the live path makes to Avito.

`AccountSession` is the plain class (unit-tested without Ray); `AccountActor` is its Ray shell, one per account,
named ``account:{id}`` (see :mod:`actors.registry`). The token lives in memory and, encrypted, in PostgreSQL, so a
restarted actor does not spend a token request; it is refreshed at ~80 % of its lifetime and on 401/403, one
refresh shared by all callers waiting for it (:class:`core.avito.client.OAuthTokenSource`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import msgspec

from core import db
from core.avito.client import SYNC_CHAT_TYPES, AvitoClient, OAuthTokenSource, http_session
from core.avito.payloads import Chat, Message, TokenResponse, WebhookEvent, WebhookMessage, WebhookPayload
from core.heap import freeze_start_up_heap
from core.security import SecretBox
from core.settings import Settings
from core.store import accounts as account_store
from core.store import history as history_store
from core.store.inbox import ingest

log = logging.getLogger(__name__)

MAX_TEXT = 1000  # Avito's limit for one text message
# Requests per second per account. Avito's messenger limits are unpublished (AVITO_API.md): this is our own
# throttle, and a 429 is honoured with its Retry-After on top of it (core/avito/client.py). 50/s lets one account
# answer ~35 buyer messages a second (a send each, a chat card per new chat), read marks using what is left.
DEFAULT_RATE = 50.0
DEFAULT_BURST = 100
PAGE = 100  # Avito's largest page of chats or messages
MAX_OFFSET = 1000  # and the furthest offset it serves (AVITO_API.md §2, §5.6)
POLL_RECENT = 50  # messages of an unread chat the polling fallback looks at
# Polling stores a missing message as a webhook would only if it is no older than the account's connection less
# this margin (Avito's times are whole seconds, and answering a message from just before the connection is fine).
POLL_SINCE_MARGIN = 600.0
# A chat the bot answered is marked read on Avito this many seconds after the first reply that asked for it, so a
# conversation's run of replies costs one mark, not one each (the account setting `read_mark_delay_seconds`).
READ_MARK_DELAY = 10.0


def split_reply(text: str, limit: int = MAX_TEXT) -> list[str]:
    """A reply cut into parts Avito accepts: at paragraph ends, else sentence ends, else spaces, so no part
    breaks a word; a single word longer than the limit is cut hard. Empty text gives no parts."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = -1
        for separator in ("\n\n", "\n", ". ", "! ", "? ", " "):
            at = window.rfind(separator)
            if at > limit // 3:
                cut = at + (len(separator.rstrip()) if separator.strip() else 0)
                break
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


class RateLimiter:
    """A token bucket: at most ``burst`` calls at once, ``rate`` per second on average. Waiters queue in order.

    `acquire_spare` is for calls that may wait (read marks): they take a token only while no `acquire` waits
    and more than ``reserve`` tokens are left, so they use only capacity that replies do not need."""

    def __init__(self, rate: float, burst: int, *, reserve: float | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self.reserve = burst / 2 if reserve is None else reserve
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    async def acquire_spare(self) -> None:
        while True:
            if not self._lock.locked():
                self._refill()
                if self._tokens >= 1 + self.reserve:
                    self._tokens -= 1
                    return
            await asyncio.sleep(1 / self.rate)


class ReadMarks:
    """One account's answered chats waiting to be marked read on Avito, so the polling fallback's unread list holds
    only chats that still wait for someone. One mark is in flight at a time, and it takes only the rate limiter's
    spare capacity (`AccountSession.mark_read`), so marks never crowd out sends. Best effort: a chat left unread
    costs nothing but a later poll."""

    def __init__(self, mark: Callable[[str], Awaitable[None]], delay: float) -> None:
        self.mark = mark
        self.delay = delay
        self._due: dict[str, float] = {}  # chat → when to mark it, earliest first
        self._task: asyncio.Task[None] | None = None

    def add(self, chat_id: str) -> None:
        self._due.setdefault(chat_id, time.monotonic() + self.delay)
        if self._task is None:
            self._task = asyncio.create_task(self._work(), name="read-marks")

    async def _work(self) -> None:
        try:
            while self._due:
                chat_id, at = next(iter(self._due.items()))
                if (wait := at - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                del self._due[chat_id]  # a reply from now on asks for a new mark
                await self._mark(chat_id)
        finally:
            self._task = None

    async def flush(self) -> None:
        """Marks every waiting chat now, without its delay (shutdown)."""
        if (task := self._task) is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        while self._due:
            chat_id = next(iter(self._due))
            del self._due[chat_id]
            await self._mark(chat_id)

    async def _mark(self, chat_id: str) -> None:
        try:
            await self.mark(chat_id)
        except Exception as exc:
            log.info("chat %s: could not mark it read on Avito: %s", chat_id, exc)


class SentText(msgspec.Struct, frozen=True):
    id: str
    created: int


# (chats done, total chats once known) — called after each chat of a history sync; may be a coroutine function.
Progress = Callable[[int, int | None], Any]


class SyncResult(msgspec.Struct, frozen=True, kw_only=True):
    chats: int  # chats synced in this pass, counting those an interrupted run had done
    messages: int  # messages stored that were not stored before
    resumed: bool  # this run continued an interrupted one
    truncated: bool  # Avito's paging (offset ≤ 1000) ended before the chat list did


class PolledMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A message the polling fallback stored as a webhook would have (see ``core.store.inbox.Ingested``)."""

    chat_id: int
    message_id: int
    chat_created: bool
    dispatch: bool  # a buyer's message waiting for its chat session
    mode: str
    mode_changed: bool


class Polled(msgspec.Struct, frozen=True, kw_only=True):
    chats: int  # unread chats looked at
    new: int  # messages no webhook had brought, now stored as a webhook would have stored them
    history: int  # missing messages older than the account's connection, stored as history (not answered)
    messages: list[PolledMessage] = []

    @property
    def dispatch_chat_ids(self) -> list[int]:
        """Chats whose sessions have new work, in the order they were found."""
        return list(dict.fromkeys(m.chat_id for m in self.messages if m.dispatch))


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def _report(progress: Progress | None, done: int, total: int | None) -> None:
    if progress is not None:
        result = progress(done, total)
        if inspect.isawaitable(result):
            await result


class AccountSession:
    """The calls the live path makes for one account, rate-limited, on a token kept fresh and persisted."""

    def __init__(self, settings: Settings, database_url: str, account_id: int) -> None:
        self.settings = settings
        self.database_url = database_url
        self.account_id = account_id
        self._box = SecretBox(settings.secret())
        self._pool: asyncpg.Pool | None = None
        self._http: aiohttp.ClientSession | None = None
        self._client: AvitoClient | None = None
        self._started = asyncio.Lock()
        self.user_id = 0

    async def client(self) -> AvitoClient:
        if self._client is None:
            async with self._started:
                if self._client is None:
                    await self._start()
        assert self._client is not None
        return self._client

    async def _start(self) -> None:
        self._pool = await db.create_pool(self.database_url, min_size=1, max_size=2)
        secrets = await account_store.load_secrets(self._pool, self._box, self.account_id)
        info = await account_store.get_account(self._pool, self.account_id)
        self.user_id = secrets.avito_user_id
        self._http = http_session(timeout=15, connections=32)
        credentials = secrets.credentials

        async def keep(token: TokenResponse) -> None:
            nonlocal credentials
            if token.refresh_token and token.refresh_token != credentials.refresh_token:
                credentials = msgspec.structs.replace(credentials, refresh_token=token.refresh_token)
                changed = credentials
            else:
                changed = None
            expires_at = datetime.now(UTC) + timedelta(seconds=token.expires_in)
            assert self._pool is not None
            await account_store.save_token(
                self._pool, self._box, self.account_id, token.access_token, expires_at, changed
            )

        source_args: dict[str, Any] = {"base_url": secrets.api_url, "on_refresh": keep}
        remaining = (secrets.token_expires_at - datetime.now(UTC)).total_seconds() if secrets.token_expires_at else 0
        if secrets.access_token and remaining > 60:
            stored = TokenResponse(
                access_token=secrets.access_token, expires_in=int(remaining), refresh_token=credentials.refresh_token
            )
            tokens = OAuthTokenSource.from_token(
                self._http, credentials.client_id, credentials.client_secret, stored, **source_args
            )
        else:
            tokens = OAuthTokenSource(
                self._http,
                credentials.client_id,
                credentials.client_secret,
                refresh_token=credentials.refresh_token,
                **source_args,
            )
        self.tokens = tokens
        rate = float(info.settings.get("rate_limit_per_second") or DEFAULT_RATE)
        self.limiter = RateLimiter(rate, int(info.settings.get("rate_limit_burst") or DEFAULT_BURST))
        self.read_marks = ReadMarks(
            self.mark_read, float(info.settings.get("read_mark_delay_seconds", READ_MARK_DELAY))
        )
        self._client = AvitoClient(tokens, secrets.avito_user_id, base_url=secrets.api_url, http=self._http)

    async def aclose(self) -> None:
        if self._client is not None:
            await self.read_marks.flush()
        if self._http is not None:
            await self._http.close()
        if self._pool is not None:
            await self._pool.close()
        self._client = self._http = self._pool = None

    # ---- calls ------------------------------------------------------------------------------------------

    async def send_text(self, chat_id: str, text: str, *, mark_read: bool = False) -> list[SentText]:
        """Sends a reply, in several messages when it is over Avito's 1000 characters; ``mark_read``: the chat is
        then marked read a little later (`ReadMarks`), here rather than by another call from the sender."""
        client = await self.client()
        sent = []
        for part in split_reply(text):
            await self.limiter.acquire()
            message = await client.send_text(chat_id, part)
            sent.append(SentText(message.id, message.created))
        if mark_read:
            self.read_marks.add(chat_id)
        return sent

    async def upload_image(self, data: bytes, filename: str, content_type: str) -> dict[str, Any]:
        """Uploads an image to Avito: ``{"image_id", "sizes": {"1280x960": url, …}}``. Sending it is a second
        call, so the caller can record what it is about to send before it is sent."""
        client = await self.client()
        await self.limiter.acquire()
        uploaded = await client.upload_image(data, filename=filename, content_type=content_type)
        return {"image_id": uploaded.image_id, "sizes": uploaded.sizes}

    async def send_image(self, chat_id: str, image_id: str) -> SentText:
        client = await self.client()
        await self.limiter.acquire()
        message = await client.send_image(chat_id, image_id)
        return SentText(message.id, message.created)

    async def voice_urls(self, voice_ids: list[str]) -> dict[str, str]:
        """Playable URLs of voice messages (Avito's are valid for an hour, so they are asked for when played)."""
        client = await self.client()
        await self.limiter.acquire()
        return await client.get_voice_urls(voice_ids)

    async def mark_read(self, chat_id: str) -> None:
        """A read mark waits for spare capacity (`RateLimiter.acquire_spare`): it never delays a reply."""
        client = await self.client()
        await self.limiter.acquire_spare()
        await client.mark_read(chat_id)

    async def get_chat(self, chat_id: str) -> dict[str, Any]:
        client = await self.client()
        await self.limiter.acquire()
        return msgspec.to_builtins(await client.get_chat(chat_id))  # type: ignore[no-any-return]

    async def recent_messages(self, chat_id: str, limit: int = 20) -> list[dict[str, Any]]:
        client = await self.client()
        await self.limiter.acquire()
        return [msgspec.to_builtins(m) for m in await client.get_messages(chat_id, limit=limit)]

    async def subscribe_webhook(self, url: str) -> None:
        client = await self.client()
        await self.limiter.acquire()
        await client.subscribe_webhook(url)

    # ---- history sync and the polling fallback ----------------------------------------------------------

    async def sync_history(self, progress: Progress | None = None, *, restart: bool = False) -> SyncResult:
        """Stores the account's chats (u2i and u2u, with listing and buyer) and their messages as history: no
        inbox rows, so the bot does not answer the past. Resumable: the chat offset and the chats done on the
        current page are kept in ``accounts.sync_state`` after each chat, so a run that stopped (an error,
        Ctrl-C) is continued by the next one; a finished sync records ``{"done": true, "finished_at", "chats",
        "messages"}`` and the next run starts a new pass, which stores only what is new. ``restart`` starts a new
        pass even after an interrupted one. Avito pages reach offset 1000 at most, for chats and for each chat's
        messages: older ones are out of reach (AVITO_API.md §5.6; ``truncated`` says the chat list was cut)."""
        client = await self.client()
        pool = self._pool
        assert pool is not None
        state = dict((await account_store.get_account(pool, self.account_id)).sync_state)
        resumed = not restart and not state.get("done") and "offset" in state
        if not resumed:
            state = {"done": False, "started_at": _now(), "offset": 0, "page_done": [], "chats": 0, "messages": 0}
            await account_store.set_sync_state(pool, self.account_id, state)
        offset = int(state["offset"])
        done_here = set(state.get("page_done") or [])
        chats, messages = int(state["chats"]), int(state["messages"])
        truncated = False
        total: int | None = None
        try:
            while True:
                await self.limiter.acquire()
                page = await client.list_chats(chat_types=SYNC_CHAT_TYPES, limit=PAGE, offset=offset)
                last = len(page) < PAGE
                if last:
                    total = chats + sum(1 for chat in page if chat.id not in done_here)
                for chat in page:
                    if chat.id in done_here:
                        continue
                    messages += await self._sync_chat(client, chat)
                    chats += 1
                    done_here.add(chat.id)
                    state.update(chats=chats, messages=messages, page_done=sorted(done_here))
                    await account_store.set_sync_state(pool, self.account_id, state)
                    await _report(progress, chats, total)
                if last:
                    break
                if offset + PAGE > MAX_OFFSET:
                    truncated = True
                    break
                offset += PAGE
                done_here = set()
                state.update(offset=offset, page_done=[])
                await account_store.set_sync_state(pool, self.account_id, state)
        except Exception as exc:
            state["error"] = f"{type(exc).__name__}: {exc}"[:500]
            try:
                await account_store.set_sync_state(pool, self.account_id, state)
            except Exception:
                log.exception("could not record the history sync's error")
            raise
        finished: dict[str, Any] = {"done": True, "finished_at": _now(), "chats": chats, "messages": messages}
        if truncated:
            finished["truncated"] = True
        await account_store.set_sync_state(pool, self.account_id, finished)
        return SyncResult(chats=chats, messages=messages, resumed=resumed, truncated=truncated)

    async def _sync_chat(self, client: AvitoClient, chat: Chat) -> int:
        assert self._pool is not None
        stored = await history_store.upsert_chat(self._pool, self.account_id, self.user_id, chat)
        count = offset = 0
        while True:
            await self.limiter.acquire()
            page = await client.get_messages(chat.id, limit=PAGE, offset=offset)
            count += await history_store.store_messages(self._pool, self.account_id, stored.id, self.user_id, page)
            if len(page) < PAGE or offset + PAGE > MAX_OFFSET:
                return count
            offset += PAGE

    async def poll_unread(self, recent: int = POLL_RECENT) -> Polled:
        """The fallback for webhook deliveries that never arrive (AVITO_API.md §3): the account's unread chats
        (u2i and u2u), their ``recent`` latest messages, and every one not stored yet stored exactly as its
        webhook would have been — through :func:`core.store.inbox.ingest`, so a buyer's message becomes an
        unprocessed inbox row for its session, and de-duplication and echo recognition are the webhook's own.
        A message the bot already answered is stored already, so it is skipped. Messages from before the
        account was connected (less ``POLL_SINCE_MARGIN``) could never have come by webhook: they are stored as
        history, never answered."""
        client = await self.client()
        pool = self._pool
        assert pool is not None
        connected = (await account_store.get_account(pool, self.account_id)).created_at.timestamp()
        since = connected - POLL_SINCE_MARGIN
        unread: list[Chat] = []
        offset = 0
        while True:
            await self.limiter.acquire()
            page = await client.list_chats(chat_types=SYNC_CHAT_TYPES, unread_only=True, limit=PAGE, offset=offset)
            unread.extend(page)
            if len(page) < PAGE or offset + PAGE > MAX_OFFSET:
                break
            offset += PAGE
        new = history = 0
        stored_messages: list[PolledMessage] = []
        for chat in unread:
            latest = await self._latest_messages(client, chat.id, recent)
            known = await history_store.known_message_ids(pool, self.account_id, [m.id for m in latest])
            missing = [m for m in history_store.chronological(latest) if m.id not in known]
            if not missing:
                continue
            chat_row = await history_store.upsert_chat(pool, self.account_id, self.user_id, chat)
            old = [m for m in missing if 0 < m.created < since]
            if old:
                history += await history_store.store_messages(pool, self.account_id, chat_row.id, self.user_id, old)
            chat_created = chat_row.created
            for message in missing:
                if 0 < message.created < since:
                    continue
                event = self._as_webhook(chat, message)
                ingested = await ingest(pool, self.account_id, self.user_id, event, msgspec.to_builtins(event))
                if ingested is None or ingested.message_id is None:
                    continue  # a webhook stored it a moment ago
                new += 1
                stored_messages.append(
                    PolledMessage(
                        chat_id=ingested.chat_id,
                        message_id=ingested.message_id,
                        chat_created=chat_created or ingested.chat_created,
                        dispatch=ingested.dispatch,
                        mode=ingested.mode,
                        mode_changed=ingested.mode_changed,
                    )
                )
                chat_created = False
        return Polled(chats=len(unread), new=new, history=history, messages=stored_messages)

    async def _latest_messages(self, client: AvitoClient, chat_id: str, count: int) -> list[Message]:
        """A chat's ``count`` latest messages. Avito's order is unconfirmed: a full first page that runs oldest
        first holds the chat's oldest messages, so the pages after it are read up to the end (or offset 1000)."""
        await self.limiter.acquire()
        page = await client.get_messages(chat_id, limit=count)
        if len(page) < count or page[0].created >= page[-1].created:
            return page  # the whole chat, or newest first
        messages, offset = list(page), count
        while offset <= MAX_OFFSET:
            await self.limiter.acquire()
            page = await client.get_messages(chat_id, limit=count, offset=offset)
            messages.extend(page)
            if len(page) < count:
                break
            offset += count
        return messages[-count:]

    def _as_webhook(self, chat: Chat, message: Message) -> WebhookEvent:
        """The delivery Avito would have made for this message; ``version`` "poll" marks where it came from."""
        published = datetime.fromtimestamp(message.created, UTC) if message.created > 0 else datetime.now(UTC)
        return WebhookEvent(
            id=f"poll:{message.id}",
            version="poll",
            timestamp=int(time.time()),
            payload=WebhookPayload(
                type="message",
                value=WebhookMessage(
                    id=message.id,
                    chat_id=chat.id,
                    user_id=self.user_id,
                    author_id=message.author_id,
                    created=message.created,
                    type=message.type,
                    chat_type=history_store.chat_type(chat),
                    content=message.content,
                    item_id=chat.item_id,
                    published_at=published.isoformat().replace("+00:00", "Z"),
                    read=message.read,
                ),
            ),
        )


class AccountActor:
    """The Ray shell: one per account, restarted by Ray and reloading its state from PostgreSQL."""

    def __init__(self, settings: Settings, database_url: str, account_id: int) -> None:
        self.session = AccountSession(settings, database_url, account_id)
        # Here, not in the session's start: in-process sessions (LocalAccounts) live in the web process, whose
        # heap the app freezes itself, and a collection on an account's first call would stall its loop.
        freeze_start_up_heap()

    async def send_text(self, chat_id: str, text: str, mark_read: bool = False) -> list[SentText]:
        return await self.session.send_text(chat_id, text, mark_read=mark_read)

    async def upload_image(self, data: bytes, filename: str, content_type: str) -> dict[str, Any]:
        return await self.session.upload_image(data, filename, content_type)

    async def send_image(self, chat_id: str, image_id: str) -> SentText:
        return await self.session.send_image(chat_id, image_id)

    async def voice_urls(self, voice_ids: list[str]) -> dict[str, str]:
        return await self.session.voice_urls(voice_ids)

    async def mark_read(self, chat_id: str) -> None:
        await self.session.mark_read(chat_id)

    async def get_chat(self, chat_id: str) -> dict[str, Any]:
        return await self.session.get_chat(chat_id)

    async def recent_messages(self, chat_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return await self.session.recent_messages(chat_id, limit)

    async def subscribe_webhook(self, url: str) -> None:
        await self.session.subscribe_webhook(url)

    async def sync_history(self, restart: bool = False) -> SyncResult:
        return await self.session.sync_history(restart=restart)

    async def poll_unread(self, recent: int = POLL_RECENT) -> Polled:
        return await self.session.poll_unread(recent)

    async def ping(self) -> int:
        return self.account_id

    @property
    def account_id(self) -> int:
        return self.session.account_id
