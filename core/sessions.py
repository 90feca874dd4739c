"""Login sessions, kept in Redis, shared by REST and Socket.io (both read the same cookie).

The cookie holds a random id; Redis holds only its SHA-256, so a leaked Redis dump cannot be replayed as
cookies. Sessions slide: each use extends them, an idle one expires after IDLE_TTL.
"""

from __future__ import annotations

import hashlib
import secrets

import msgspec
from redis.asyncio import Redis

COOKIE = "avibot_session"
CSRF_HEADER = "x-csrf-token"
IDLE_TTL = 14 * 24 * 3600
_PREFIX = "session:"


class Session(msgspec.Struct, frozen=True):
    user_id: int
    csrf: str


def _key(session_id: str) -> str:
    return _PREFIX + hashlib.sha256(session_id.encode()).hexdigest()


async def create(redis: Redis, user_id: int) -> tuple[str, Session]:
    session_id = secrets.token_urlsafe(32)
    session = Session(user_id=user_id, csrf=secrets.token_urlsafe(24))
    await redis.set(_key(session_id), msgspec.json.encode(session), ex=IDLE_TTL)
    return session_id, session


async def load(redis: Redis, session_id: str | None) -> Session | None:
    if not session_id or len(session_id) > 100:
        return None
    key = _key(session_id)
    raw = await redis.getex(key, ex=IDLE_TTL)
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw, type=Session)
    except msgspec.DecodeError:
        await redis.delete(key)
        return None


async def delete(redis: Redis, session_id: str) -> None:
    await redis.delete(_key(session_id))


async def delete_all_for_user(redis: Redis, user_id: int) -> int:
    """Ends every session of a user (deactivation, password change)."""
    removed = 0
    async for key in redis.scan_iter(match=_PREFIX + "*", count=500):
        raw = await redis.get(key)
        if raw is not None and msgspec.json.decode(raw, type=Session).user_id == user_id:
            removed += await redis.delete(key)
    return removed


class LoginThrottle:
    """Failed logins per login name and per client address within a window; over the limit → refuse."""

    def __init__(self, redis: Redis, limit: int = 10, window: int = 15 * 60) -> None:
        self.redis, self.limit, self.window = redis, limit, window

    def _keys(self, login: str, client: str) -> list[str]:
        return [f"login-fail:login:{login.lower()}", f"login-fail:ip:{client}"]

    async def retry_after(self, login: str, client: str) -> int:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        wait = 0
        for key in self._keys(login, client):
            count = int(await self.redis.get(key) or 0)
            if count >= self.limit:
                wait = max(wait, int(await self.redis.ttl(key)), 1)
        return wait

    async def failed(self, login: str, client: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(login, client):
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
            await pipe.execute()

    async def succeeded(self, login: str) -> None:
        await self.redis.delete(self._keys(login, "")[0])
