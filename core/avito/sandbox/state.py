"""``SandboxState``: everything the sandbox knows — accounts, tokens, items, chats, messages, uploads, faults,
rate limits — and every operation on it."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import math
import random
import secrets
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any, Literal

import aiohttp
import msgspec

from core.avito.sandbox.config import RUNTIME_FIELDS, Fault, SandboxAccount, SandboxConfig
from core.avito.sandbox.content import FIRST_NAMES, LAST_INITIALS, SELLER_REPLIES, buyer_texts, demo_products
from core.avito.sandbox.errors import ApiError
from core.avito.sandbox.images import MAX_UPLOAD, image_kind
from core.avito.sandbox.models import Delivery, RecordedCall, SbChat, SbItem, SbMessage, SbUser
from core.avito.sandbox.persistence import WorldFile
from core.avito.sandbox.simulator import BuyerSimulator
from core.avito.sandbox.views import AvitoViews
from core.avito.sandbox.webhooks import WebhookSender

SCOPE = "messenger:read,messenger:write,user:read,items:info"


class SandboxState(AvitoViews, WebhookSender, BuyerSimulator, WorldFile):
    """Everything the sandbox knows, and every operation on it. Thread-safe (one lock; no I/O under it).

    Avito's views of the data, webhook deliveries, the buyer simulator and keeping the world in a file are mixins
    from ``views``, ``webhooks``, ``simulator`` and ``persistence``; the data and everything that changes it are
    here. Everything that changes the world bumps ``revision``, so the world file is written only when changed.

    With a ``state_file`` the world (accounts, items, buyers, chats, uploads…) is restored from it when it is there
    and valid, else seeded afresh, and written back while the server runs and when it stops."""

    def __init__(self, config: SandboxConfig | None = None, *, state_file: Path | None = None) -> None:
        self.config = config or SandboxConfig()
        self.state_file = state_file
        world = self._load_world() if state_file is not None else None
        if world is not None:  # the world's shops, whatever the caller's config says
            self.config = msgspec.structs.replace(self.config, accounts=world.accounts)
        self.public_url = "http://127.0.0.1"  # set when the server knows its port
        self._lock = threading.RLock()
        self._rng = random.Random(self.config.seed)
        self._next_id = 1  # buyers' ids and uploads' ids are drawn from it
        self.revision = 0
        self._saved_revision = -1  # a world never written is written on start
        self._save_lock = threading.Lock()
        self.accounts: dict[int, SandboxAccount] = {a.user_id: a for a in self.config.accounts}
        self._tokens: dict[str, tuple[int, float]] = {}  # access token → (account, expires at by time.time())
        self._refresh_tokens: dict[str, int] = {}
        self._codes: dict[str, int] = {}
        self.items: dict[int, SbItem] = {}
        self.users: dict[int, SbUser] = {}
        self.chats: dict[str, SbChat] = {}
        self.subscriptions: dict[int, list[str]] = {uid: [] for uid in self.accounts}
        self.blacklisted: dict[int, set[int]] = {uid: set() for uid in self.accounts}
        self.uploads: dict[str, tuple[int, str, bytes]] = {}  # image id → (account, content type, bytes)
        self.voices: set[str] = set()
        self._rate: dict[int, deque[float]] = {uid: deque() for uid in self.accounts}
        self._faults: list[Fault] = []
        self.token_grants: list[str] = []
        self.deliveries: list[Delivery] = []
        self.calls: list[RecordedCall] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._simulator: asyncio.Task[None] | None = None
        self._autosaver: asyncio.Task[None] | None = None
        self.restored = world is not None
        if world is None:
            self._seed_shop()
        else:
            self._apply_world(world)
            self._saved_revision = self.revision

    # ---- seeding ----------------------------------------------------------------------------------------

    def _seed_shop(self) -> None:
        products = demo_products()
        account_ids = list(self.accounts)
        item_ids = itertools.count(4_300_000_001)  # above int32 on purpose, like real item ids
        for index, product in enumerate(products):
            # Round robin, so every account has listings; the first account also gets every product again
            # when there is only one account (the modulo does that).
            account_id = account_ids[index % len(account_ids)]
            item = SbItem(next(item_ids), account_id, product.title, product.price)
            self.items[item.id] = item
        now = int(time.time())
        for account_id in account_ids:
            own = [item for item in self.items.values() if item.account_id == account_id]
            for n in range(self.config.history_chats):
                # The last seeded chat is a u2u one (no item), so syncing with chat_types matters.
                item = self._rng.choice(own) if own and n < self.config.history_chats - 1 else None
                started = now - self._rng.randint(2, 30) * 86400
                chat = self._new_chat(account_id, item.id if item else None, at=started)
                texts = buyer_texts()
                question = self._rng.choice(texts.get("availability") or texts["other"])
                self._append(chat, chat.buyer.id, "text", {"text": question}, at=started, notify=False)
                reply = self._rng.choice(SELLER_REPLIES)
                self._append(chat, account_id, "text", {"text": reply}, at=started + 600, notify=False)
                for message in chat.messages:
                    message.read = started + 700
                if n == 0:
                    system = {"text": "Покупатель оформил заказ с Авито Доставкой", "flow_id": "order_created"}
                    self._append(chat, 0, "system", system, at=started + 3600, notify=False)

    def _new_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id - 1

    def _new_buyer(self) -> SbUser:
        name = self._rng.choice(FIRST_NAMES)
        if self._rng.random() < 0.5:
            name = f"{name} {self._rng.choice(LAST_INITIALS)}."
        user = SbUser(500_000_000 + self._new_id(), name)
        self.users[user.id] = user
        return user

    def _new_chat(self, account_id: int, item_id: int | None, *, at: int | None = None) -> SbChat:
        prefix = "u2i" if item_id is not None else "u2u"
        now = at or int(time.time())
        chat = SbChat(f"{prefix}-{secrets.token_urlsafe(16)}", account_id, self._new_buyer(), item_id, now, now)
        self.chats[chat.id] = chat
        self.revision += 1
        return chat

    # ---- tokens, auth, rate limits, faults --------------------------------------------------------------

    def issue_token(self, form: dict[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type", "")
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        with self._lock:
            app = hmac.compare_digest(client_id, self.config.app_client_id) and hmac.compare_digest(
                secret, self.config.app_client_secret
            )
            if grant == "client_credentials":
                account = next(
                    (a for a in self.accounts.values() if a.client_id == client_id and a.client_secret == secret), None
                )
                if account is None:
                    raise ApiError(400, "invalid_client", oauth=True)
                self.token_grants.append(grant)
                return self._token_answer(account.user_id, refresh=False)
            if grant == "authorization_code":
                if not app:
                    raise ApiError(400, "invalid_client", oauth=True)
                account_id = self._codes.pop(form.get("code", ""), None)
                if account_id is None:
                    raise ApiError(400, "invalid_grant", oauth=True)
                self.token_grants.append(grant)
                return self._token_answer(account_id, refresh=True)
            if grant == "refresh_token":
                if not app:
                    raise ApiError(400, "invalid_client", oauth=True)
                # Rotation: the old refresh token is spent, as on Avito (a new one comes with every refresh).
                account_id = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
                if account_id is None:
                    raise ApiError(400, "invalid_grant", oauth=True)
                self.token_grants.append(grant)
                return self._token_answer(account_id, refresh=True)
        raise ApiError(400, "unsupported_grant_type", oauth=True)

    def _token_answer(self, account_id: int, *, refresh: bool) -> dict[str, Any]:
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (account_id, time.time() + self.config.token_ttl)
        answer: dict[str, Any] = {
            "access_token": token,
            "expires_in": max(1, math.ceil(self.config.token_ttl)),
            "token_type": "Bearer",
        }
        if refresh:
            refresh_token = secrets.token_urlsafe(32)
            self._refresh_tokens[refresh_token] = account_id
            answer |= {"refresh_token": refresh_token, "scope": SCOPE}
        return answer

    def authorization_code(self, account_id: int) -> str:
        """What Avito's consent page would hand the app after the account owner agreed."""
        with self._lock:
            self._account(account_id)
            code = secrets.token_urlsafe(16)
            self._codes[code] = account_id
            return code

    def expire_tokens(self, account_id: int | None = None) -> None:
        with self._lock:
            for token, (owner, _) in list(self._tokens.items()):
                if account_id is None or owner == account_id:
                    self._tokens[token] = (owner, 0.0)

    def authorize(self, authorization: str, path_account: int | None) -> int:
        """The account a request acts for; Avito's errors otherwise. Counts the request against the rate limit."""
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            entry = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if entry is None:
                raise ApiError(401, "Unauthorized")
            account_id, expires_at = entry
            if time.time() >= expires_at:
                raise ApiError(403, "Forbidden: the access token has expired")  # Avito: 403, not 401
            if path_account is not None and path_account != account_id:
                raise ApiError(403, "Forbidden: the token belongs to another account")
            self._count_request(account_id)
            return account_id

    def _count_request(self, account_id: int) -> None:
        limit, window = self.config.rate_limit, self.config.rate_window
        if limit <= 0:
            return
        now = time.monotonic()
        recent = self._rate[account_id]
        while recent and recent[0] <= now - window:
            recent.popleft()
        if len(recent) >= limit:
            wait = max(1, math.ceil(recent[0] + window - now))
            headers = {"retry-after": str(wait), "x-ratelimit-limit": str(limit), "x-ratelimit-remaining": "0"}
            raise ApiError(429, "Too many requests", headers=headers)
        recent.append(now)

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                applies = fault.path_contains in path if fault.path_contains else path != "/token"
                if applies and fault.count > 0:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.calls.append(RecordedCall(method, path, status, time.monotonic()))

    def calls_to(self, path_part: str, method: str | None = None) -> list[RecordedCall]:
        with self._lock:
            return [c for c in self.calls if path_part in c.path and (method is None or c.method == method)]

    def configure(self, **changes: Any) -> SandboxConfig:
        unknown = set(changes) - RUNTIME_FIELDS
        if unknown:
            raise ApiError(400, f"not configurable at run time: {', '.join(sorted(unknown))}")
        with self._lock:
            merged = msgspec.to_builtins(self.config) | changes
            self.config = msgspec.convert(merged, SandboxConfig)
        if "simulator_rate" in changes:
            self._restart_simulator()
        return self.config

    # ---- changes (each new message goes out to the webhooks) --------------------------------------------

    def _append(
        self,
        chat: SbChat,
        author_id: int,
        type_: str,
        content: dict[str, Any],
        *,
        at: int | None = None,
        notify: bool = True,
    ) -> SbMessage:
        message = SbMessage(uuid.uuid4().hex, author_id, at or int(time.time()), type_, content)
        chat.messages.append(message)
        chat.updated = max(chat.updated, message.created)
        self.revision += 1
        if notify:
            self._notify(chat, message)
        return message

    def send_text(self, account_id: int, chat_id: str, text: str) -> dict[str, Any]:
        if not text.strip():
            raise ApiError(400, "Validation error", fields={"message.text": "must not be empty"})
        if len(text) > 1000:
            raise ApiError(400, "Validation error", fields={"message.text": "must be at most 1000 characters"})
        with self._lock:
            chat = self._chat(account_id, chat_id)
            if chat.buyer.id in self.blacklisted[account_id]:
                raise ApiError(403, "The user is blacklisted")
            message = self._append(chat, account_id, "text", {"text": text})
            return self._sent_view(message)

    def send_image(self, account_id: int, chat_id: str, image_id: str) -> dict[str, Any]:
        with self._lock:
            chat = self._chat(account_id, chat_id)
            upload = self.uploads.get(image_id)
            if upload is None or upload[0] != account_id:
                raise ApiError(400, "Validation error", fields={"image_id": "unknown image"})
            message = self._append(chat, account_id, "image", {"image": {"sizes": self._upload_sizes(image_id)}})
            return self._sent_view(message)

    def _sent_view(self, message: SbMessage) -> dict[str, Any]:
        return {
            "id": message.id,
            "created": message.created,
            "direction": "out",
            "type": message.type,
            "content": message.content,
        }

    def upload_image(self, account_id: int, data: bytes) -> dict[str, Any]:
        if len(data) > MAX_UPLOAD:
            raise ApiError(400, "Validation error", fields={"uploadfile[]": "larger than 24 MB"})
        kind = image_kind(data)
        if kind is None:
            raise ApiError(400, "Validation error", fields={"uploadfile[]": "not a JPEG, HEIC, GIF, BMP or PNG"})
        with self._lock:
            image_id = f"{self._new_id()}.{secrets.token_hex(8)}"
            self.uploads[image_id] = (account_id, kind, data)
            self.revision += 1
            return {image_id: self._upload_sizes(image_id)}

    def _upload_sizes(self, image_id: str) -> dict[str, str]:
        # The sandbox does not resize: every size points at the original.
        url = f"{self.public_url}/sandbox/images/uploads/{image_id}"
        return {"1280x960": url, "640x480": url, "140x105": url}

    def mark_read(self, account_id: int, chat_id: str) -> None:
        now = int(time.time())
        with self._lock:
            chat = self._chat(account_id, chat_id)
            for message in chat.messages:
                if message.author_id != account_id and message.read is None:
                    message.read = now
                    self.revision += 1

    def delete_message(self, account_id: int, chat_id: str, message_id: str) -> None:
        with self._lock:
            chat = self._chat(account_id, chat_id)
            message = next((m for m in chat.messages if m.id == message_id), None)
            if message is None:
                raise ApiError(404, "Message not found")
            if message.author_id != account_id:
                raise ApiError(403, "Only your own messages can be deleted")
            if time.time() - message.created > 3600:
                raise ApiError(400, "A message can be deleted within an hour of sending")
            # It stays in history, as on Avito.
            message.type, message.content = "deleted", {}
            self.revision += 1

    def blacklist(self, account_id: int, body: Any) -> None:
        users = body.get("users") if isinstance(body, dict) else None
        if not isinstance(users, list) or not users:
            raise ApiError(400, "Validation error", fields={"users": "required"})
        with self._lock:
            for entry in users:
                if not isinstance(entry, dict) or not isinstance(entry.get("user_id"), int):
                    raise ApiError(400, "Validation error", fields={"users.user_id": "required"})
                reason = (entry.get("context") or {}).get("reason_id", 1)
                if reason not in (1, 2, 3, 4):
                    raise ApiError(400, "Validation error", fields={"users.context.reason_id": "1..4"})
                self.blacklisted[account_id].add(entry["user_id"])
                self.revision += 1

    def voice_urls(self, voice_ids: list[str]) -> dict[str, str]:
        with self._lock:
            return {v: f"{self.public_url}/sandbox/voice/{v}.mp4" for v in voice_ids if v in self.voices}

    def subscribe(self, account_id: int, url: str) -> None:
        with self._lock:
            if url not in self.subscriptions[account_id]:
                self.subscriptions[account_id].append(url)

    def unsubscribe(self, account_id: int, url: str) -> None:
        with self._lock:
            if url in self.subscriptions[account_id]:
                self.subscriptions[account_id].remove(url)

    def inject(
        self,
        account_id: int,
        *,
        text: str | None = None,
        chat_id: str | None = None,
        item_id: int | None = None,
        new_chat: bool = False,
        chat_type: Literal["u2i", "u2u"] = "u2i",
        type: str = "text",
        content: dict[str, Any] | None = None,
        author: Literal["buyer", "system"] = "buyer",
    ) -> tuple[str, str]:
        """A message into ``chat_id``, or into a new chat about ``item_id`` (a random item of the account when
        none is named; no item for a u2u chat). Returns (chat id, message id)."""
        if content is None:
            content = {"text": text or ""} if type in ("text", "system") else {}
        with self._lock:
            if type == "voice":
                self.voices.add(content.setdefault("voice_id", secrets.token_hex(8)))
            self._account(account_id)
            if chat_id is not None:
                chat = self._chat(account_id, chat_id)
            else:
                if chat_type == "u2i" and item_id is None:
                    own = [i.id for i in self.items.values() if i.account_id == account_id]
                    item_id = self._rng.choice(own) if own else None
                if item_id is not None and (item_id not in self.items or self.items[item_id].account_id != account_id):
                    raise ApiError(404, f"no item {item_id} of account {account_id}")
                chat = self._new_chat(account_id, item_id if chat_type == "u2i" else None)
            if author == "buyer" and chat.buyer.id in self.blacklisted[account_id]:
                raise ApiError(409, "the buyer is blacklisted by the account")
            author_id = chat.buyer.id if author == "buyer" else 0
            message = self._append(chat, author_id, type, content)
            return chat.id, message.id

    # ---- lifecycle (on the server's loop) -------------------------------------------------------------

    async def startup(self) -> None:
        self._loop = asyncio.get_running_loop()
        # Like Avito, deliveries go out over many connections at once, each kept open for the next one.
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256, limit_per_host=256))
        if self.state_file is not None:
            if self.restored:
                self._rebase_upload_urls()
            self.save()  # a fresh world is on disk before anyone (a history sync) sees it
            self._autosaver = self._loop.create_task(self._autosave())
        if self.config.simulator_rate > 0:
            self._simulator = self._loop.create_task(self._simulate())

    async def shutdown(self) -> None:
        tasks = [*self._tasks, *(task for task in (self._simulator, self._autosaver) if task)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._simulator = self._autosaver = None
        self._loop = None
        if self.state_file is not None:
            self.save()
        if self._http is not None:
            await self._http.close()
            self._http = None
