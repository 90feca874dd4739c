"""Where the live path's actors are found: one `AccountActor` per account (``account:{id}``) and a fixed pool of
`SessionHost` actors (``session-host:{n}``), all named in the ``avibot`` namespace and created on first use
(``get_if_exists``), so any process of the cluster reaches the same ones. Names carry a key of the database they
serve, so two deployments (or two tests) sharing a Ray never share an actor. Actors are not detached: session
hosts belong to the web process that started them and account actors to the host that first needed them, so a
stopped app leaves no actor behind, and Ray restarts a crashed one (`max_restarts`).

`Accounts` is how a chat session talks to Avito: `RayAccounts` through the account actors, `LocalAccounts`
through `AccountSession` objects in the same process (unit tests and benchmarks without Ray). Both give the same
answers; only the hop differs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import zlib
from typing import Any, Protocol

from actors.account import AccountActor, AccountSession, SentText
from core.settings import Settings

ACCOUNT_PREFIX = "account:"
HOST_PREFIX = "session-host:"


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Stops a background loop (the dispatcher's sweep, the poller) and waits until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def deployment_key(database_url: str) -> str:
    return hashlib.sha256(database_url.encode()).hexdigest()[:10]


def host_index(chat_id: int, hosts: int) -> int:
    """Which SessionHost owns a chat: stable across processes and restarts (not Python's salted hash)."""
    return zlib.crc32(str(chat_id).encode()) % hosts


class Accounts(Protocol):
    async def send_text(
        self, account_id: int, chat_id: str, text: str, *, mark_read: bool = False
    ) -> list[SentText]: ...

    async def get_chat(self, account_id: int, chat_id: str) -> dict[str, Any]: ...

    async def recent_messages(self, account_id: int, chat_id: str, limit: int = 20) -> list[dict[str, Any]]: ...

    async def mark_read(self, account_id: int, chat_id: str) -> None: ...

    async def upload_image(self, account_id: int, data: bytes, filename: str, content_type: str) -> dict[str, Any]: ...

    async def send_image(self, account_id: int, chat_id: str, image_id: str) -> SentText: ...

    async def voice_urls(self, account_id: int, voice_ids: list[str]) -> dict[str, str]: ...


class LocalAccounts:
    """Account sessions held in this process."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self._sessions: dict[int, AccountSession] = {}

    def session(self, account_id: int) -> AccountSession:
        if (found := self._sessions.get(account_id)) is None:
            found = self._sessions[account_id] = AccountSession(self.settings, self.database_url, account_id)
        return found

    async def send_text(self, account_id: int, chat_id: str, text: str, *, mark_read: bool = False) -> list[SentText]:
        return await self.session(account_id).send_text(chat_id, text, mark_read=mark_read)

    async def get_chat(self, account_id: int, chat_id: str) -> dict[str, Any]:
        return await self.session(account_id).get_chat(chat_id)

    async def recent_messages(self, account_id: int, chat_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return await self.session(account_id).recent_messages(chat_id, limit)

    async def mark_read(self, account_id: int, chat_id: str) -> None:
        await self.session(account_id).mark_read(chat_id)

    async def upload_image(self, account_id: int, data: bytes, filename: str, content_type: str) -> dict[str, Any]:
        return await self.session(account_id).upload_image(data, filename, content_type)

    async def send_image(self, account_id: int, chat_id: str, image_id: str) -> SentText:
        return await self.session(account_id).send_image(chat_id, image_id)

    async def voice_urls(self, account_id: int, voice_ids: list[str]) -> dict[str, str]:
        return await self.session(account_id).voice_urls(voice_ids)

    async def aclose(self) -> None:
        for session in self._sessions.values():
            await session.aclose()
        self._sessions.clear()


def account_actor(settings: Settings, database_url: str, account_id: int) -> Any:
    """The account's actor, created if no process has yet."""
    import ray

    return (
        ray.remote(AccountActor)
        .options(
            name=f"{ACCOUNT_PREFIX}{deployment_key(database_url)}:{account_id}",
            get_if_exists=True,
            num_cpus=0,
            max_restarts=-1,
            max_task_retries=0,  # a send is not idempotent on Avito's side; the session's outbox retries safely
            max_concurrency=256,
        )
        .remote(settings, database_url, account_id)
    )


class RayAccounts:
    """Account actors, looked up once per account and kept."""

    def __init__(self, settings: Settings, database_url: str) -> None:
        self.settings = settings
        self.database_url = database_url
        self._actors: dict[int, Any] = {}

    def actor(self, account_id: int) -> Any:
        if (found := self._actors.get(account_id)) is None:
            found = self._actors[account_id] = account_actor(self.settings, self.database_url, account_id)
        return found

    async def send_text(self, account_id: int, chat_id: str, text: str, *, mark_read: bool = False) -> list[SentText]:
        return await self.actor(account_id).send_text.remote(chat_id, text, mark_read)  # type: ignore[no-any-return]

    async def get_chat(self, account_id: int, chat_id: str) -> dict[str, Any]:
        return await self.actor(account_id).get_chat.remote(chat_id)  # type: ignore[no-any-return]

    async def recent_messages(self, account_id: int, chat_id: str, limit: int = 20) -> list[dict[str, Any]]:
        return await self.actor(account_id).recent_messages.remote(chat_id, limit)  # type: ignore[no-any-return]

    async def mark_read(self, account_id: int, chat_id: str) -> None:
        await self.actor(account_id).mark_read.remote(chat_id)

    async def upload_image(self, account_id: int, data: bytes, filename: str, content_type: str) -> dict[str, Any]:
        return await self.actor(account_id).upload_image.remote(data, filename, content_type)  # type: ignore[no-any-return]

    async def send_image(self, account_id: int, chat_id: str, image_id: str) -> SentText:
        return await self.actor(account_id).send_image.remote(chat_id, image_id)  # type: ignore[no-any-return]

    async def voice_urls(self, account_id: int, voice_ids: list[str]) -> dict[str, str]:
        return await self.actor(account_id).voice_urls.remote(voice_ids)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        self._actors.clear()
