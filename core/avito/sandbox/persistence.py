"""Keeping the sandbox's world in a file (a mixin of ``SandboxState``), so the demo's Avito still has yesterday's
chats after `avibot up` restarts: the database remembers them, and a sandbox that forgot them answers «chat not
found» to every reply there.

What is kept: the accounts with their credentials, items, buyers, chats with their messages (ids, order, authors,
read marks), blacklists, uploaded images, voice ids and the id counter. What is not: tokens (clients get new ones
on 401), webhook subscriptions (`avibot up` subscribes anew, maybe at another URL), faults, records of calls and
deliveries. The file holds client secrets: it is written 0600, atomically (a temporary file renamed over it).
A file that cannot be read back is moved aside to ``*.bad`` with a warning, and the world starts afresh.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path

import msgspec

from core.avito.sandbox.config import SandboxAccount, SandboxConfig
from core.avito.sandbox.models import SbChat, SbItem, SbUser

log = logging.getLogger(__name__)

FORMAT = 1  # bumped on any incompatible change: an older file is then moved aside, not misread
AUTOSAVE_INTERVAL = 30.0  # seconds; a kill -9 loses at most this much of the world


class SavedUpload(msgspec.Struct, kw_only=True):
    id: str
    account_id: int
    content_type: str
    data: bytes  # base64 in the JSON


class SavedWorld(msgspec.Struct, kw_only=True):
    format: int
    public_url: str  # where the sandbox was: uploaded images' URLs in messages start with it
    next_id: int
    accounts: list[SandboxAccount]
    items: list[SbItem]
    users: list[SbUser]
    chats: list[SbChat]  # in the order they were opened (the simulator and the control API list them so)
    blacklisted: dict[int, list[int]]
    uploads: list[SavedUpload]
    voices: list[str]


def _check(world: SavedWorld) -> None:
    """Raises ValueError when the world does not hang together (a hand-edited or truncated-then-patched file)."""
    if world.format != FORMAT:
        raise ValueError(f"format {world.format}, expected {FORMAT}")
    accounts = {account.user_id for account in world.accounts}
    if not accounts or len(accounts) != len(world.accounts):
        raise ValueError("no accounts, or an account twice")
    items = {item.id: item.account_id for item in world.items}
    if not set(items.values()) <= accounts:
        raise ValueError("an item of an unknown account")
    users = {user.id for user in world.users}
    for chat in world.chats:
        if chat.account_id not in accounts or chat.buyer.id not in users:
            raise ValueError(f"chat {chat.id}: unknown account or buyer")
        if chat.item_id is not None and items.get(chat.item_id) != chat.account_id:
            raise ValueError(f"chat {chat.id}: an item of another account")
    if not set(world.blacklisted) <= accounts or any(u.account_id not in accounts for u in world.uploads):
        raise ValueError("a blacklist or an upload of an unknown account")


def _write_private(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` atomically, readable by the owner only (it holds client secrets)."""
    temporary = path.with_name(f"{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older temporary file may have had other bits
        with os.fdopen(fd, "wb") as file:
            fd = -1
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if fd != -1:
            os.close(fd)


class WorldFile:
    """Restores and saves the world of ``SandboxState`` (which bumps ``revision`` on every change and calls
    ``_load_world`` / ``_apply_world`` when it is made, ``save`` and ``_autosave`` while its server runs)."""

    config: SandboxConfig
    public_url: str
    state_file: Path | None
    revision: int
    _saved_revision: int
    _next_id: int
    _lock: threading.RLock
    accounts: dict[int, SandboxAccount]
    items: dict[int, SbItem]
    users: dict[int, SbUser]
    chats: dict[str, SbChat]
    blacklisted: dict[int, set[int]]
    uploads: dict[str, tuple[int, str, bytes]]
    voices: set[str]

    _save_lock: threading.Lock  # one writer of the temporary file at a time (the autosave and the last save)
    _world_url: str  # the public URL the restored world was saved at

    def _load_world(self) -> SavedWorld | None:
        """The world in ``state_file``; None when there is none, or it was unusable (then moved aside)."""
        assert self.state_file is not None
        try:
            data = self.state_file.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("Cannot read the Avito sandbox's saved world %s (%s): starting afresh.", self.state_file, exc)
            return None
        try:
            world = msgspec.json.decode(data, type=SavedWorld)
            _check(world)
        except (msgspec.DecodeError, ValueError) as exc:  # msgspec.ValidationError is a DecodeError
            bad = self.state_file.with_name(f"{self.state_file.name}.bad")
            try:
                os.replace(self.state_file, bad)
            except OSError:
                bad = self.state_file  # overwritten by the first save
            log.warning("The Avito sandbox's saved world %s is unusable (%s): kept as %s, starting afresh.",
                        self.state_file, exc, bad)  # fmt: skip
            return None
        return world

    def _apply_world(self, world: SavedWorld) -> None:
        self._world_url = world.public_url
        self._next_id = world.next_id
        self.items = {item.id: item for item in world.items}
        self.users = {user.id: user for user in world.users}
        for chat in world.chats:
            chat.buyer = self.users[chat.buyer.id]  # one buyer object, as when the chat was opened
        self.chats = {chat.id: chat for chat in world.chats}
        for account_id, users in world.blacklisted.items():
            self.blacklisted[account_id] = set(users)
        self.uploads = {u.id: (u.account_id, u.content_type, u.data) for u in world.uploads}
        self.voices = set(world.voices)

    def _snapshot(self) -> tuple[int, bytes]:
        with self._lock:
            world = SavedWorld(
                format=FORMAT,
                public_url=self.public_url,
                next_id=self._next_id,
                accounts=list(self.accounts.values()),
                items=list(self.items.values()),
                users=list(self.users.values()),
                chats=list(self.chats.values()),
                blacklisted={account: sorted(users) for account, users in self.blacklisted.items() if users},
                uploads=[
                    SavedUpload(id=image_id, account_id=account, content_type=kind, data=data)
                    for image_id, (account, kind, data) in self.uploads.items()
                ],
                voices=sorted(self.voices),
            )
            # Encoded under the lock: the messages' lists and dicts change in place.
            return self.revision, msgspec.json.encode(world)

    def _rebase_upload_urls(self) -> None:
        """Image messages carry the URLs of their uploads, which start with the sandbox's address when they were
        sent; a restarted sandbox may listen on another port (SANDBOX_PORT=0), and Avito's URLs do not break."""
        old, new = f"{self._world_url}/sandbox/images/uploads/", f"{self.public_url}/sandbox/images/uploads/"
        if old == new:
            return
        with self._lock:
            for chat in self.chats.values():
                for message in chat.messages:
                    image = message.content.get("image") if message.type == "image" else None
                    sizes = image.get("sizes") if isinstance(image, dict) else None
                    for size, url in (sizes or {}).items():
                        if isinstance(url, str) and url.startswith(old):
                            sizes[size] = new + url.removeprefix(old)
                            self.revision += 1
            self._world_url = self.public_url

    def save(self) -> bool:
        """Writes the world to ``state_file`` if it changed since the last write; whether it wrote. A failed write
        is logged and tried again next time: the sandbox keeps serving."""
        if self.state_file is None or self.revision == self._saved_revision:
            return False
        with self._save_lock:
            revision, data = self._snapshot()
            if revision == self._saved_revision:  # another save got there first
                return False
            try:
                _write_private(self.state_file, data)
            except OSError as exc:
                log.warning("Could not save the Avito sandbox's world to %s: %s", self.state_file, exc)
                return False
            self._saved_revision = revision
            return True

    async def _autosave(self) -> None:
        while True:
            await asyncio.sleep(AUTOSAVE_INTERVAL)
            await asyncio.to_thread(self.save)
