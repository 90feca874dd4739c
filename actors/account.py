"""One Avito account's connection: its token, its rate limit, and every call the live path makes to Avito.

`AccountSession` is the plain class (unit-tested without Ray); `AccountActor` is its Ray shell, one per account,
named ``account:{id}`` (see :mod:`actors.registry`). The token lives in memory and, encrypted, in PostgreSQL, so a
restarted actor does not spend a token request; it is refreshed at ~80 % of its lifetime and on 401/403, one
refresh shared by all callers waiting for it (:class:`core.avito.client.OAuthTokenSource`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec

from core import db
from core.avito.client import AvitoClient, OAuthTokenSource
from core.avito.payloads import TokenResponse
from core.security import SecretBox
from core.settings import Settings
from core.store import accounts as account_store

log = logging.getLogger(__name__)

MAX_TEXT = 1000  # Avito's limit for one text message
DEFAULT_RATE = 20.0  # requests per second per account; Avito's messenger limits are unpublished
DEFAULT_BURST = 40


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
    """A token bucket: at most ``burst`` calls at once, ``rate`` per second on average. Waiters queue in order."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


class SentText(msgspec.Struct, frozen=True):
    id: str
    created: int


class AccountSession:
    """The calls the live path makes for one account, rate-limited, on a token kept fresh and persisted."""

    def __init__(self, settings: Settings, database_url: str, account_id: int) -> None:
        self.settings = settings
        self.database_url = database_url
        self.account_id = account_id
        self._box = SecretBox(settings.secret())
        self._pool: asyncpg.Pool | None = None
        self._http: httpx.AsyncClient | None = None
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
        self._http = httpx.AsyncClient(timeout=15, limits=httpx.Limits(max_connections=32))
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
        self._client = AvitoClient(tokens, secrets.avito_user_id, base_url=secrets.api_url, http=self._http)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._pool is not None:
            await self._pool.close()
        self._client = self._http = self._pool = None

    # ---- calls ------------------------------------------------------------------------------------------

    async def send_text(self, chat_id: str, text: str) -> list[SentText]:
        """Sends a reply, in several messages when it is over Avito's 1000 characters."""
        client = await self.client()
        sent = []
        for part in split_reply(text):
            await self.limiter.acquire()
            message = await client.send_text(chat_id, part)
            sent.append(SentText(message.id, message.created))
        return sent

    async def send_image(
        self, chat_id: str, data: bytes, filename: str = "image.jpg", content_type: str = "image/jpeg"
    ) -> SentText:
        client = await self.client()
        await self.limiter.acquire()
        uploaded = await client.upload_image(data, filename=filename, content_type=content_type)
        await self.limiter.acquire()
        message = await client.send_image(chat_id, uploaded.image_id)
        return SentText(message.id, message.created)

    async def mark_read(self, chat_id: str) -> None:
        client = await self.client()
        await self.limiter.acquire()
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


class AccountActor:
    """The Ray shell: one per account, restarted by Ray and reloading its state from PostgreSQL."""

    def __init__(self, settings: Settings, database_url: str, account_id: int) -> None:
        self.session = AccountSession(settings, database_url, account_id)

    async def send_text(self, chat_id: str, text: str) -> list[SentText]:
        return await self.session.send_text(chat_id, text)

    async def send_image(
        self, chat_id: str, data: bytes, filename: str = "image.jpg", content_type: str = "image/jpeg"
    ) -> SentText:
        return await self.session.send_image(chat_id, data, filename, content_type)

    async def mark_read(self, chat_id: str) -> None:
        await self.session.mark_read(chat_id)

    async def get_chat(self, chat_id: str) -> dict[str, Any]:
        return await self.session.get_chat(chat_id)

    async def recent_messages(self, chat_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return await self.session.recent_messages(chat_id, limit)

    async def subscribe_webhook(self, url: str) -> None:
        await self.session.subscribe_webhook(url)

    async def ping(self) -> int:
        return self.account_id

    @property
    def account_id(self) -> int:
        return self.session.account_id
