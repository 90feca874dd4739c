"""The Avito sandbox: a real HTTP server speaking the Avito API subset in /work/shared/AVITO_API.md, for several
accounts, with Avito's habits — tokens that expire into 403, 429 with Retry-After, webhook deliveries with echoes
of the account's own messages, system messages, duplicates and retries — and simulated buyers.

The demo runs it instead of Avito (``run_sandbox``); tests run it in a thread (``Sandbox``, a context manager) and
steer it through ``Sandbox.state`` or the same operations over HTTP under ``/sandbox/…``:

    POST  /sandbox/inject                       a buyer/system message into a chat, or into a new chat
    GET   /sandbox/chats/{chat_id}/messages     a chat's history as the account sees it, oldest first
    GET   /sandbox/accounts                     accounts with their credentials and items
    POST  /sandbox/accounts/{user_id}/code      an authorization code for the app (authorization_code grant)
    POST  /sandbox/accounts/{user_id}/expire    expire the account's access tokens now
    GET   /sandbox/config, PATCH /sandbox/config    behaviours (token TTL, rate limit, webhook duplicates…)
    POST  /sandbox/faults, DELETE /sandbox/faults   answer the next N API requests with a given status
    POST  /sandbox/simulator                    {"rate": buyer messages per minute}; 0 stops
    GET   /sandbox/deliveries, /sandbox/requests, /sandbox/stats    what happened, for assertions
    GET   /sandbox/images/…, /sandbox/voice/…   generated item photos, avatars, uploads, voice files

State lives in memory behind one lock: HTTP handlers run on the server's event loop, tests call the same methods
from their own thread. Webhook deliveries are tasks on the server's loop and never hold up an API answer.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import itertools
import json
import logging
import math
import random
import re
import secrets
import socket
import struct
import threading
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import msgspec
import numpy as np
import uvicorn
from litestar import Litestar, Request, Response, get, patch, post
from litestar.exceptions import HTTPException
from litestar.handlers import delete as delete_handler
from litestar.params import FromPath

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[2]
KB_PATH = _ROOT / "core" / "demo" / "kb.json"
# Buyer texts come from the training examples; tests/data/intents_labelled.jsonl is held out and must not leak.
EXAMPLES_PATH = _ROOT / "graphs" / "offline" / "intent_examples.jsonl"

SCOPE = "messenger:read,messenger:write,user:read,items:info"
MAX_UPLOAD = 24 * 1024 * 1024
ITEM_SIZES = (140, 640, 1280)
AVATAR_SIZES = (24, 36, 48, 64, 72, 96, 128, 192, 256)


# ---- configuration --------------------------------------------------------------------------------------


class SandboxAccount(msgspec.Struct, kw_only=True):
    user_id: int
    name: str
    client_id: str
    client_secret: str
    email: str = ""
    phone: str = ""


def _default_accounts() -> list[SandboxAccount]:
    return [
        SandboxAccount(
            user_id=301_000_001,
            name="Велосипеды Казань",
            client_id="sandbox-client-1",
            client_secret="sandbox-secret-1",
            email="shop1@example.ru",
            phone="+79270000001",
        ),
        SandboxAccount(
            user_id=301_000_002,
            name="ВелоМастер на Баумана",
            client_id="sandbox-client-2",
            client_secret="sandbox-secret-2",
            email="shop2@example.ru",
            phone="+79270000002",
        ),
    ]


class SandboxConfig(msgspec.Struct, kw_only=True):
    accounts: list[SandboxAccount] = msgspec.field(default_factory=_default_accounts)
    # The app's own credentials, for the authorization_code and refresh_token grants.
    app_client_id: str = "avibot-app"
    app_client_secret: str = "avibot-app-secret"
    token_ttl: float = 86400.0
    # Per account: at most rate_limit API requests in any rate_window seconds (0: no limit).
    rate_limit: int = 0
    rate_window: float = 60.0
    # Avito's shape for v3 messages is unconfirmed; the sandbox can give either so the client is tested on both.
    messages_shape: Literal["wrapped", "bare"] = "wrapped"
    messages_order: Literal["newest_first", "oldest_first"] = "newest_first"
    history_chats: int = 3  # chats with some history per account at start
    webhook_version: str = "v3.0.0"
    webhook_delay: float = 0.0
    webhook_duplicate_probability: float = 0.0
    webhook_retries: int = 3  # further attempts after a failed one (non-2xx, timeout, refused)
    webhook_retry_backoff: float = 0.5  # seconds before the first retry, doubled for each next one
    webhook_timeout: float = 2.0  # Avito wants 200 within 2 s
    simulator_rate: float = 0.0  # buyer messages per minute over all accounts; 0: off
    seed: int | None = None


# Fields that may change while the sandbox runs (accounts and credentials may not).
_RUNTIME_FIELDS = frozenset(SandboxConfig.__struct_fields__) - {"accounts", "app_client_id", "app_client_secret"}


class Fault(msgspec.Struct, kw_only=True):
    """The next ``count`` API requests whose path contains ``path_contains`` get ``status`` (``/token`` only when
    the filter names it, so a 401 storm does not also break the refresh it provokes)."""

    status: int
    count: int = 1
    retry_after: float | None = None
    path_contains: str = ""
    message: str = ""


# ---- images: PNG written by hand (no Pillow) ------------------------------------------------------------


def _png(rgba: np.ndarray) -> bytes:
    height, width, _ = rgba.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgba.reshape(height, width * 4)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def _colour(key: str, lightness: float) -> np.ndarray:
    digest = hashlib.sha256(key.encode()).digest()
    base = np.array(list(digest[:3]), dtype=np.float64)
    return np.clip(base * 0.5 + 255 * lightness * 0.5, 0, 255)


# A bicycle frame as line segments in unit coordinates; the wheels are centred at (0.3, 0.62) and (0.7, 0.62).
_FRAME = (
    ((0.3, 0.62), (0.48, 0.4)),
    ((0.3, 0.62), (0.52, 0.62)),
    ((0.52, 0.62), (0.48, 0.4)),
    ((0.52, 0.62), (0.66, 0.38)),
    ((0.48, 0.4), (0.66, 0.38)),
    ((0.66, 0.38), (0.7, 0.62)),
)


@functools.lru_cache(maxsize=256)
def item_image(item_id: int, size: int) -> bytes:
    """A square picture of a bicycle (two wheels and a frame) on a background coloured by the item id."""
    ys, xs = np.mgrid[0:size, 0:size] / size
    image = np.empty((size, size, 4), np.float64)
    image[..., :3] = _colour(f"item{item_id}", 0.9)
    image[..., 3] = 255
    ink = _colour(f"ink{item_id}", 0.1)
    shape = np.zeros((size, size), bool)
    for cx in (0.3, 0.7):  # wheels
        r = np.hypot(xs - cx, ys - 0.62)
        shape |= (r > 0.14) & (r < 0.17)
    for (x0, y0), (x1, y1) in _FRAME:
        # Distance from each pixel to the segment: a frame tube.
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / (dx * dx + dy * dy), 0, 1)
        shape |= np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy)) < 0.015
    image[shape, :3] = ink
    return _png(image.astype(np.uint8))


@functools.lru_cache(maxsize=256)
def avatar_image(user_id: int, size: int) -> bytes:
    """A round avatar: a coloured disc with a lighter head-and-shoulders silhouette, transparent outside."""
    ys, xs = np.mgrid[0:size, 0:size] / size
    image = np.zeros((size, size, 4), np.float64)
    disc = np.hypot(xs - 0.5, ys - 0.5) <= 0.5
    image[disc, :3] = _colour(f"user{user_id}", 0.5)
    image[disc, 3] = 255
    head = np.hypot(xs - 0.5, ys - 0.4) < 0.16
    shoulders = (np.hypot((xs - 0.5) / 1.4, ys - 0.95) < 0.3) & disc
    image[head | shoulders, :3] = _colour(f"face{user_id}", 0.95)
    return _png(image.astype(np.uint8))


def _image_kind(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"BM"):
        return "image/bmp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "image/heic"
    return None


# ---- the shop: items from the demo knowledge base, buyers, texts ---------------------------------------

_PRICE = re.compile(r"Цена(?: за комплект)? ([\d\s ]+)₽")

_NAMES = (
    "Алексей Мария Дмитрий Анна Сергей Елена Иван Ольга Андрей Наталья Михаил Татьяна Артём Екатерина Никита "
    "Юлия Павел Ирина Роман Светлана Егор Дарья Тимур Алсу Рустам Гульнара Ильдар Лейсан Владимир Ксения"
)
FIRST_NAMES = _NAMES.split()
LAST_INITIALS = "АБВГДЕЗИКЛМНОПРСТФХШ"

SELLER_REPLIES = [
    "Здравствуйте! Да, в наличии.",
    "Добрый день! Можно забрать сегодня до 20:00.",
    "Здравствуйте! Доставка по Казани 400 ₽, от 30 000 ₽ бесплатно.",
    "Да, можно оплатить картой или переводом.",
    "Спасибо за интерес! Подскажите, на какой рост подбираете?",
]


@dataclass(frozen=True, slots=True)
class Product:
    title: str
    price: int
    description: str


@functools.cache
def demo_products() -> tuple[Product, ...]:
    """The demo shop's goods: articles of the ``products`` category whose text names a price."""
    kb = json.loads(KB_PATH.read_text(encoding="utf-8"))
    products = []
    for article in kb["articles"]:
        if article["category"] != "products":
            continue
        match = _PRICE.search(article["text"])
        if match:
            price = int(re.sub(r"\D", "", match.group(1)))
            products.append(Product(article["title"], price, article["text"]))
    return tuple(products)


@functools.cache
def buyer_texts() -> dict[str, tuple[str, ...]]:
    """intent → example texts, minus the bot-facing intents a buyer would not open with."""
    by_intent: dict[str, list[str]] = {}
    for line in EXAMPLES_PATH.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_intent.setdefault(row["intent"], []).append(row["text"])
    return {intent: tuple(texts) for intent, texts in by_intent.items()}


def price_string(price: int) -> str:
    return f"{price:,}".replace(",", " ") + " ₽"


# ---- state ----------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An Avito-style error answer: ``{"error": {"code", "message"[, "fields"]}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        fields: Any = None,
        oauth: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.fields = fields
        # /token errors: OAuth's {"error", "error_description"} (Avito's shape there is unconfirmed).
        self.oauth = oauth


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


@dataclass(slots=True)
class RecordedCall:
    method: str
    path: str
    status: int
    at: float


class SandboxState:
    """Everything the sandbox knows, and every operation on it. Thread-safe (one lock; no I/O under it)."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.public_url = "http://127.0.0.1"  # set when the server knows its port
        self._lock = threading.RLock()
        self._rng = random.Random(self.config.seed)
        self._ids = itertools.count(1)
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
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._simulator: asyncio.Task[None] | None = None
        self._seed_shop()

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

    def _new_buyer(self) -> SbUser:
        name = self._rng.choice(FIRST_NAMES)
        if self._rng.random() < 0.5:
            name = f"{name} {self._rng.choice(LAST_INITIALS)}."
        user = SbUser(500_000_000 + next(self._ids), name)
        self.users[user.id] = user
        return user

    def _new_chat(self, account_id: int, item_id: int | None, *, at: int | None = None) -> SbChat:
        prefix = "u2i" if item_id is not None else "u2u"
        now = at or int(time.time())
        chat = SbChat(f"{prefix}-{secrets.token_urlsafe(16)}", account_id, self._new_buyer(), item_id, now, now)
        self.chats[chat.id] = chat
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
        unknown = set(changes) - _RUNTIME_FIELDS
        if unknown:
            raise ApiError(400, f"not configurable at run time: {', '.join(sorted(unknown))}")
        with self._lock:
            merged = msgspec.to_builtins(self.config) | changes
            self.config = msgspec.convert(merged, SandboxConfig)
        if "simulator_rate" in changes:
            self._restart_simulator()
        return self.config

    # ---- views (what Avito answers) ---------------------------------------------------------------------

    def _account(self, account_id: int) -> SandboxAccount:
        account = self.accounts.get(account_id)
        if account is None:
            raise ApiError(404, f"no account {account_id}")
        return account

    def _chat(self, account_id: int, chat_id: str) -> SbChat:
        chat = self.chats.get(chat_id)
        if chat is None or chat.account_id != account_id:
            raise ApiError(404, "Chat not found")
        return chat

    def image_sizes(self, kind: str, key: int | str, sizes: tuple[int, ...] = ITEM_SIZES) -> dict[str, str]:
        return {f"{s}x{s}": f"{self.public_url}/sandbox/images/{kind}/{key}/{s}.png" for s in sizes}

    def item_url(self, item: SbItem) -> str:
        return f"https://www.avito.ru/kazan/velosipedy/item_{item.id}"

    def _user_view(self, user_id: int, name: str, item_id: int | None) -> dict[str, Any]:
        images = self.image_sizes("avatars", user_id, AVATAR_SIZES)
        return {
            "id": user_id,
            "name": name,
            "public_user_profile": {
                "user_id": user_id,
                "item_id": item_id,
                "url": f"https://www.avito.ru/user/{user_id}/profile",
                "avatar": {"default": images["128x128"], "images": images},
            },
        }

    def message_view(self, chat: SbChat, message: SbMessage) -> dict[str, Any]:
        return {
            "id": message.id,
            "author_id": message.author_id,
            "created": message.created,
            "direction": "out" if message.author_id == chat.account_id else "in",
            "type": message.type,
            "content": message.content,
            "is_read": message.read is not None,
            "read": message.read,
            "quote": None,
        }

    def chat_view(self, chat: SbChat) -> dict[str, Any]:
        account = self.accounts[chat.account_id]
        view: dict[str, Any] = {
            "id": chat.id,
            "created": chat.created,
            "updated": chat.updated,
            "users": [
                self._user_view(account.user_id, account.name, None),
                self._user_view(chat.buyer.id, chat.buyer.name, None),
            ],
            "last_message": self.message_view(chat, chat.messages[-1]) if chat.messages else None,
        }
        if chat.item_id is not None:
            item = self.items[chat.item_id]
            view["context"] = {
                "type": "item",
                "value": {
                    "id": item.id,
                    "title": item.title,
                    "price_string": price_string(item.price),
                    "url": self.item_url(item),
                    "status_id": 0 if item.status == "active" else 1,
                    "user_id": item.account_id,
                    "images": {"count": 1, "main": self.image_sizes("items", item.id, (140,))},
                },
            }
        return view

    def list_chats(
        self,
        account_id: int,
        *,
        item_ids: set[int] | None,
        unread_only: bool,
        chat_types: set[str],
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        with self._lock:
            chats = [
                chat
                for chat in self.chats.values()
                if chat.account_id == account_id
                and chat.chat_type in chat_types
                and (not item_ids or chat.item_id in item_ids)
                and (not unread_only or self._unread(chat))
            ]
            chats.sort(key=lambda c: (c.updated, c.created), reverse=True)
            return [self.chat_view(chat) for chat in chats[offset : offset + limit]]

    def _unread(self, chat: SbChat) -> bool:
        return any(m.read is None and m.author_id != chat.account_id for m in chat.messages)

    def get_chat(self, account_id: int, chat_id: str) -> dict[str, Any]:
        with self._lock:
            return self.chat_view(self._chat(account_id, chat_id))

    def list_messages(self, account_id: int, chat_id: str, *, limit: int, offset: int) -> list[dict[str, Any]]:
        with self._lock:
            chat = self._chat(account_id, chat_id)
            ordered = chat.messages[::-1] if self.config.messages_order == "newest_first" else chat.messages
            return [self.message_view(chat, m) for m in ordered[offset : offset + limit]]

    def chat_history(self, chat_id: str) -> list[dict[str, Any]]:
        """Control view: every message of a chat as the account sees it, oldest first."""
        with self._lock:
            chat = self.chats.get(chat_id)
            if chat is None:
                raise ApiError(404, "Chat not found")
            return [self.message_view(chat, m) for m in chat.messages]

    def chats_of(self, account_id: int) -> list[SbChat]:
        with self._lock:
            return [chat for chat in self.chats.values() if chat.account_id == account_id]

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
        kind = _image_kind(data)
        if kind is None:
            raise ApiError(400, "Validation error", fields={"uploadfile[]": "not a JPEG, HEIC, GIF, BMP or PNG"})
        image_id = f"{next(self._ids)}.{secrets.token_hex(8)}"
        with self._lock:
            self.uploads[image_id] = (account_id, kind, data)
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

    # ---- webhook deliveries ---------------------------------------------------------------------------

    def webhook_event(self, chat: SbChat, message: SbMessage) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "version": self.config.webhook_version,
            "timestamp": int(time.time()),
            "payload": {
                "type": "message",
                "value": {
                    "id": message.id,
                    "chat_id": chat.id,
                    "user_id": chat.account_id,
                    "author_id": message.author_id,
                    "created": message.created,
                    "type": message.type,
                    "chat_type": chat.chat_type,
                    "content": message.content,
                    "item_id": chat.item_id,
                    "published_at": datetime.fromtimestamp(message.created, UTC).isoformat().replace("+00:00", "Z"),
                    "read": message.read,
                },
            },
        }

    def _notify(self, chat: SbChat, message: SbMessage) -> None:
        urls = list(self.subscriptions.get(chat.account_id, ()))
        if not urls or self._loop is None:
            return
        body = json.dumps(self.webhook_event(chat, message), ensure_ascii=False).encode()
        for url in urls:
            # Thread-safe scheduling: _notify runs on the server loop (API calls) or in a test's thread (inject).
            self._loop.call_soon_threadsafe(self._spawn, self._deliver(url, body, message.id))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: bytes, message_id: str) -> None:
        config = self.config
        event_id = json.loads(body)["id"]
        # Avito signs deliveries with an undocumented algorithm; the header is there so receivers see one.
        signature = hmac.new(b"sandbox", body, hashlib.sha256).hexdigest()
        headers = {"content-type": "application/json", "x-avito-messenger-signature": signature}
        if config.webhook_delay > 0:
            await asyncio.sleep(config.webhook_delay)
        copies = 2 if self._rng.random() < config.webhook_duplicate_probability else 1
        assert self._http is not None
        for copy in range(copies):
            for attempt in range(1, config.webhook_retries + 2):
                try:
                    response = await self._http.post(url, content=body, headers=headers, timeout=config.webhook_timeout)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                with self._lock:
                    self.deliveries.append(Delivery(url, event_id, message_id, attempt, copy, status, time.monotonic()))
                if 200 <= status < 300:
                    break
                if attempt <= config.webhook_retries:
                    await asyncio.sleep(config.webhook_retry_backoff * 2 ** (attempt - 1))
            if copy + 1 < copies:
                await asyncio.sleep(self._rng.uniform(0.05, 0.3))  # a duplicate comes a little later

    def deliveries_of(self, message_id: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.message_id == message_id]

    # ---- buyer simulator ------------------------------------------------------------------------------

    def start_simulator(self, rate: float) -> None:
        """Buyers write ``rate`` messages a minute (on average, Poisson) across all accounts; 0 stops them."""
        self.configure(simulator_rate=rate)

    def stop_simulator(self) -> None:
        self.configure(simulator_rate=0.0)

    def _restart_simulator(self) -> None:
        if self._loop is None:
            return  # started with the server, from the config

        def restart() -> None:
            if self._simulator is not None:
                self._simulator.cancel()
                self._simulator = None
            if self.config.simulator_rate > 0:
                self._simulator = asyncio.get_running_loop().create_task(self._simulate())

        self._loop.call_soon_threadsafe(restart)

    async def _simulate(self) -> None:
        while (rate := self.config.simulator_rate) > 0:
            await asyncio.sleep(self._rng.expovariate(rate / 60))
            try:
                self.simulate_one()
            except ApiError as exc:  # e.g. a blacklisted buyer: the next one will do
                log.debug("simulator: %s", exc.message)

    def simulate_one(self) -> tuple[str, str]:
        """One buyer message: a question in an existing buyer's chat, or a new chat opened with a question."""
        texts = buyer_texts()
        questions = [intent for intent in texts if intent not in ("greeting", "thanks")]
        with self._lock:
            account_id = self._rng.choice(list(self.accounts))
            open_chats = [
                c
                for c in self.chats.values()
                if c.account_id == account_id and c.buyer.id not in self.blacklisted[account_id]
            ]
            if open_chats and self._rng.random() < 0.6:
                chat = self._rng.choice(open_chats)
                intent = self._rng.choice([*questions, "thanks"])
                return self.inject(account_id, chat_id=chat.id, text=self._rng.choice(texts[intent]))
            text = self._rng.choice(texts[self._rng.choice(questions)])
            if self._rng.random() < 0.3:
                greeting = self._rng.choice(texts["greeting"]).rstrip()
                text = f"{greeting if greeting[-1] in '!.,?' else greeting + '!'} {text}"
            return self.inject(account_id, text=text)

    # ---- lifecycle (on the server's loop) -------------------------------------------------------------

    async def startup(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._http = httpx.AsyncClient()
        if self.config.simulator_rate > 0:
            self._simulator = self._loop.create_task(self._simulate())

    async def shutdown(self) -> None:
        tasks = [*self._tasks, *([self._simulator] if self._simulator else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._simulator = None
        self._loop = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None


# ---- the HTTP app ---------------------------------------------------------------------------------------


def _state(request: Request[Any, Any, Any]) -> SandboxState:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def _auth(request: Request[Any, Any, Any], user_id: int | None = None) -> int:
    return _state(request).authorize(request.headers.get("authorization", ""), user_id)


async def _json(request: Request[Any, Any, Any]) -> Any:
    body = await request.body()
    try:
        return json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError(400, f"invalid JSON: {exc}") from exc


def _int_param(request: Request[Any, Any, Any], name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "Validation error", fields={name: "must be an integer"}) from None
    if not low <= value <= high:
        raise ApiError(400, "Validation error", fields={name: f"must be within {low}..{high}"})
    return value


def _csv(request: Request[Any, Any, Any], name: str) -> list[str]:
    """A list parameter given as a comma list, repeated, or both."""
    return [part for value in request.query_params.getall(name, []) for part in value.split(",") if part]


def _ok() -> dict[str, bool]:
    return {"ok": True}


@post("/token", status_code=200)
async def token(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return _state(request).issue_token({k: str(v) for k, v in form.items()})


@get("/core/v1/accounts/self")
async def accounts_self(request: Request[Any, Any, Any]) -> dict[str, Any]:
    account = _state(request).accounts[_auth(request)]
    return {
        "id": account.user_id,
        "name": account.name,
        "email": account.email,
        "phone": account.phone,
        "phones": [account.phone] if account.phone else [],
        "profile_url": f"https://www.avito.ru/user/{account.user_id}/profile",
    }


@get("/core/v1/items")
async def items_list(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state, account_id = _state(request), _auth(request)
    per_page = _int_param(request, "per_page", 25, 1, 100)
    page = _int_param(request, "page", 1, 1, 10_000)
    statuses = set(_csv(request, "status")) or {"active"}
    own = [i for i in state.items.values() if i.account_id == account_id and i.status in statuses]
    resources = [
        {
            "id": item.id,
            "title": item.title,
            "price": item.price,
            "status": item.status,
            "url": state.item_url(item),
            "address": "Казань, ул. Баумана, 1",
            "category": {"id": 34, "name": "Велосипеды"},
        }
        for item in own[(page - 1) * per_page : page * per_page]
    ]
    return {"meta": {"page": page, "per_page": per_page}, "resources": resources}


@get("/core/v1/accounts/{user_id:int}/items/{item_id:int}")
async def item_info(request: Request[Any, Any, Any], user_id: FromPath[int], item_id: FromPath[int]) -> dict[str, Any]:
    state, account_id = _state(request), _auth(request, user_id)
    item = state.items.get(item_id)
    if item is None or item.account_id != account_id:
        raise ApiError(404, "Item not found")
    started = datetime.fromtimestamp(item.created, UTC)
    return {
        "status": item.status,
        "url": state.item_url(item),
        "start_time": started.isoformat(),
        "finish_time": datetime.fromtimestamp(item.created + 30 * 86400, UTC).isoformat(),
        "autoload_item_id": None,
    }


@get("/messenger/v2/accounts/{user_id:int}/chats")
async def chats_list(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    account_id = _auth(request, user_id)
    try:
        item_ids = {int(i) for i in _csv(request, "item_ids")}
    except ValueError:
        raise ApiError(400, "Validation error", fields={"item_ids": "integers"}) from None
    chat_types = set(_csv(request, "chat_types")) or {"u2i"}  # Avito's default: u2i only
    chats = _state(request).list_chats(
        account_id,
        item_ids=item_ids or None,
        unread_only=request.query_params.get("unread_only", "false").lower() in ("true", "1"),
        chat_types=chat_types,
        limit=_int_param(request, "limit", 100, 1, 100),
        offset=_int_param(request, "offset", 0, 0, 1000),
    )
    return {"chats": chats}


@get("/messenger/v2/accounts/{user_id:int}/chats/{chat_id:str}")
async def chat_one(request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]) -> dict[str, Any]:
    return _state(request).get_chat(_auth(request, user_id), chat_id)


@get("/messenger/v3/accounts/{user_id:int}/chats/{chat_id:str}/messages")
async def messages_list(request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]) -> Any:
    state = _state(request)
    messages = state.list_messages(
        _auth(request, user_id),
        chat_id,
        limit=_int_param(request, "limit", 100, 1, 100),
        offset=_int_param(request, "offset", 0, 0, 1000),
    )
    return messages if state.config.messages_shape == "bare" else {"messages": messages}


@post("/messenger/v1/accounts/{user_id:int}/chats/{chat_id:str}/messages", status_code=200)
async def send_message(
    request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]
) -> dict[str, Any]:
    account_id = _auth(request, user_id)
    body = await _json(request)
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("type") != "text" or not isinstance(message, dict):
        raise ApiError(400, "Validation error", fields={"type": "must be text", "message": "required"})
    text = message.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "Validation error", fields={"message.text": "required"})
    return _state(request).send_text(account_id, chat_id, text)


@post("/messenger/v1/accounts/{user_id:int}/chats/{chat_id:str}/messages/image", status_code=200)
async def send_image(request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]) -> dict[str, Any]:
    account_id = _auth(request, user_id)
    body = await _json(request)
    image_id = body.get("image_id") if isinstance(body, dict) else None
    if not isinstance(image_id, str):
        raise ApiError(400, "Validation error", fields={"image_id": "required"})
    return _state(request).send_image(account_id, chat_id, image_id)


@post("/messenger/v1/accounts/{user_id:int}/chats/{chat_id:str}/messages/{message_id:str}", status_code=200)
async def delete_message(
    request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str], message_id: FromPath[str]
) -> dict[str, Any]:
    _state(request).delete_message(_auth(request, user_id), chat_id, message_id)
    return {}


@post("/messenger/v1/accounts/{user_id:int}/uploadImages", status_code=200)
async def upload_images(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    account_id = _auth(request, user_id)
    form = await request.form()
    upload = form.get("uploadfile[]")
    if upload is None or isinstance(upload, str):
        raise ApiError(400, "Validation error", fields={"uploadfile[]": "one image file required"})
    return _state(request).upload_image(account_id, await upload.read())


@post("/messenger/v1/accounts/{user_id:int}/chats/{chat_id:str}/read", status_code=200)
async def mark_read(request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]) -> dict[str, bool]:
    _state(request).mark_read(_auth(request, user_id), chat_id)
    return _ok()


@post("/messenger/v2/accounts/{user_id:int}/blacklist", status_code=200)
async def blacklist(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    account_id = _auth(request, user_id)
    _state(request).blacklist(account_id, await _json(request))
    return {}


@get("/messenger/v1/accounts/{user_id:int}/getVoiceFiles")
async def voice_files(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    _auth(request, user_id)
    return {"voices_urls": _state(request).voice_urls(_csv(request, "voice_ids"))}


async def _webhook_url(request: Request[Any, Any, Any]) -> str:
    body = await _json(request)
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "Validation error", fields={"url": "an http(s) URL is required"})
    return url


@post("/messenger/v3/webhook", status_code=200)
async def webhook_subscribe(request: Request[Any, Any, Any]) -> dict[str, bool]:
    account_id = _auth(request)
    _state(request).subscribe(account_id, await _webhook_url(request))
    return _ok()


@post("/messenger/v1/webhook/unsubscribe", status_code=200)
async def webhook_unsubscribe(request: Request[Any, Any, Any]) -> dict[str, bool]:
    account_id = _auth(request)
    _state(request).unsubscribe(account_id, await _webhook_url(request))
    return _ok()


@post("/messenger/v1/subscriptions", status_code=200)
async def webhook_list(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state, account_id = _state(request), _auth(request)
    return {"subscriptions": [{"url": url, "version": "3"} for url in state.subscriptions[account_id]]}


# ---- control API ----------------------------------------------------------------------------------------


class InjectBody(msgspec.Struct, kw_only=True):
    user_id: int
    text: str | None = None
    chat_id: str | None = None
    item_id: int | None = None
    chat_type: Literal["u2i", "u2u"] = "u2i"
    type: str = "text"
    content: dict[str, Any] | None = None
    author: Literal["buyer", "system"] = "buyer"


@post("/sandbox/inject", status_code=200)
async def control_inject(request: Request[Any, Any, Any]) -> dict[str, str]:
    try:
        body = msgspec.json.decode(await request.body(), type=InjectBody)
    except msgspec.ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    fields = msgspec.structs.asdict(body)
    chat_id, message_id = _state(request).inject(fields.pop("user_id"), **fields)
    return {"chat_id": chat_id, "message_id": message_id}


@get("/sandbox/chats/{chat_id:str}/messages")
async def control_history(request: Request[Any, Any, Any], chat_id: FromPath[str]) -> list[dict[str, Any]]:
    return _state(request).chat_history(chat_id)


@get("/sandbox/accounts")
async def control_accounts(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    state = _state(request)
    return [
        {
            **msgspec.to_builtins(account),
            "items": [i.id for i in state.items.values() if i.account_id == account.user_id],
            "chats": [c.id for c in state.chats_of(account.user_id)],
        }
        for account in state.accounts.values()
    ]


@post("/sandbox/accounts/{user_id:int}/code", status_code=200)
async def control_code(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, str]:
    return {"code": _state(request).authorization_code(user_id)}


@post("/sandbox/accounts/{user_id:int}/expire", status_code=200)
async def control_expire(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, bool]:
    _state(request).expire_tokens(user_id)
    return _ok()


def _config_view(state: SandboxState) -> dict[str, Any]:
    config: dict[str, Any] = msgspec.to_builtins(state.config)
    config.pop("accounts")
    return config


@get("/sandbox/config")
async def control_config(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return _config_view(_state(request))


@patch("/sandbox/config")
async def control_configure(request: Request[Any, Any, Any]) -> dict[str, Any]:
    changes = await _json(request)
    if not isinstance(changes, dict):
        raise ApiError(400, "a JSON object of settings is expected")
    try:
        _state(request).configure(**changes)
    except msgspec.ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    return _config_view(_state(request))


@post("/sandbox/faults", status_code=200)
async def control_fault(request: Request[Any, Any, Any]) -> dict[str, bool]:
    try:
        fault = msgspec.json.decode(await request.body(), type=Fault)
    except msgspec.ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    _state(request).add_fault(fault)
    return _ok()


@delete_handler("/sandbox/faults", status_code=200)
async def control_clear_faults(request: Request[Any, Any, Any]) -> dict[str, bool]:
    _state(request).clear_faults()
    return _ok()


@post("/sandbox/simulator", status_code=200)
async def control_simulator(request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = await _json(request)
    rate = body.get("rate") if isinstance(body, dict) else None
    if not isinstance(rate, int | float) or rate < 0:
        raise ApiError(400, "Validation error", fields={"rate": "messages per minute, ≥ 0"})
    _state(request).start_simulator(float(rate))
    return {"rate": float(rate)}


@get("/sandbox/deliveries")
async def control_deliveries(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    state = _state(request)
    with state._lock:
        return [msgspec.to_builtins(d) for d in state.deliveries]


@get("/sandbox/requests")
async def control_requests(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    state = _state(request)
    with state._lock:
        return [msgspec.to_builtins(c) for c in state.calls]


@get("/sandbox/stats")
async def control_stats(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state = _state(request)
    with state._lock:
        grants: dict[str, int] = {}
        for grant in state.token_grants:
            grants[grant] = grants.get(grant, 0) + 1
        return {"token_grants": grants, "chats": len(state.chats), "deliveries": len(state.deliveries)}


def _png_response(data: bytes) -> Response[bytes]:
    return Response(content=data, media_type="image/png", headers={"cache-control": "public, max-age=86400"})


def _size(name: str, allowed: tuple[int, ...]) -> int:
    size = int(name.removesuffix(".png")) if name.removesuffix(".png").isdigit() else 0
    if size not in allowed:
        raise ApiError(404, "no such image size")
    return size


@get("/sandbox/images/items/{item_id:int}/{name:str}")
async def image_item(item_id: FromPath[int], name: FromPath[str]) -> Response[bytes]:
    return _png_response(item_image(item_id, _size(name, ITEM_SIZES)))


@get("/sandbox/images/avatars/{user_id:int}/{name:str}")
async def image_avatar(user_id: FromPath[int], name: FromPath[str]) -> Response[bytes]:
    return _png_response(avatar_image(user_id, _size(name, AVATAR_SIZES)))


@get("/sandbox/images/uploads/{image_id:str}")
async def image_upload(request: Request[Any, Any, Any], image_id: FromPath[str]) -> Response[bytes]:
    upload = _state(request).uploads.get(image_id)
    if upload is None:
        raise ApiError(404, "no such image")
    return Response(content=upload[2], media_type=upload[1])


@get("/sandbox/voice/{name:str}")
async def voice_file(name: FromPath[str]) -> Response[bytes]:
    # Not a playable Opus file: an MP4 'ftyp' box only, enough for code that downloads and stores it.
    data = struct.pack(">I", 20) + b"ftypM4A \x00\x00\x00\x00M4A "
    return Response(content=data, media_type="audio/mp4")


def _error_response(
    status: int, message: str, headers: dict[str, str] | None = None, fields: Any = None
) -> Response[Any]:
    error: dict[str, Any] = {"code": status, "message": message}
    if fields:
        error["fields"] = fields
    return Response(content={"error": error}, status_code=status, headers=headers)


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    if exc.oauth:
        return Response(content={"error": exc.message, "error_description": exc.message}, status_code=exc.status)
    return _error_response(exc.status, exc.message, exc.headers, exc.fields)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return _error_response(exc.status_code, str(exc.detail))


class _Outer:
    """ASGI wrapper: records every API request for assertions and answers scripted faults before the app."""

    def __init__(self, app: Litestar, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/sandbox/"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        fault = self.state.take_fault(path)
        if fault is not None:
            headers = [(b"content-type", b"application/json")]
            if fault.retry_after is not None:
                headers.append((b"retry-after", f"{fault.retry_after:g}".encode()))
            error = {"error": {"code": fault.status, "message": fault.message or f"scripted {fault.status}"}}
            self.state.record(method, path, fault.status)
            await send({"type": "http.response.start", "status": fault.status, "headers": headers})
            await send({"type": "http.response.body", "body": json.dumps(error).encode()})
            return
        recorded = False

        async def recording_send(message: Any) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                # Recorded before the answer leaves, so a test that got the answer also sees the record.
                self.state.record(method, path, message["status"])
                recorded = True
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if not recorded:
                self.state.record(method, path, 0)


def create_sandbox_app(state: SandboxState) -> _Outer:
    app = Litestar(
        route_handlers=[
            token,
            accounts_self,
            items_list,
            item_info,
            chats_list,
            chat_one,
            messages_list,
            send_message,
            send_image,
            delete_message,
            upload_images,
            mark_read,
            blacklist,
            voice_files,
            webhook_subscribe,
            webhook_unsubscribe,
            webhook_list,
            control_inject,
            control_history,
            control_accounts,
            control_code,
            control_expire,
            control_config,
            control_configure,
            control_fault,
            control_clear_faults,
            control_simulator,
            control_deliveries,
            control_requests,
            control_stats,
            image_item,
            image_avatar,
            image_upload,
            voice_file,
        ],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        on_startup=[state.startup],
        on_shutdown=[state.shutdown],
        openapi_config=None,
        request_max_body_size=MAX_UPLOAD + 1024 * 1024,
    )
    app.state.sandbox = state
    return _Outer(app, state)


# ---- running it -----------------------------------------------------------------------------------------


def _uvicorn_config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        interface="asgi3",
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws="none",
        loop="asyncio",
        timeout_graceful_shutdown=2,
    )


def run_sandbox(host: str = "127.0.0.1", port: int = 8090, config: SandboxConfig | None = None) -> None:
    """Serves the sandbox until interrupted (the demo's stand-in for api.avito.ru)."""
    state = SandboxState(config)
    state.public_url = f"http://{host}:{port}"
    server_config = _uvicorn_config(create_sandbox_app(state))
    server_config.host, server_config.port = host, port
    uvicorn.Server(server_config).run()


class Sandbox:
    """The sandbox in a daemon thread of this process, on a loopback port bound before the thread starts."""

    def __init__(self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SandboxState(config)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.state.public_url = self.url
        self._server = uvicorn.Server(_uvicorn_config(create_sandbox_app(self.state)))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="avito-sandbox", daemon=True
        )

    @property
    def accounts(self) -> list[SandboxAccount]:
        return list(self.state.accounts.values())

    def start_simulator(self, rate: float) -> None:
        """Simulated buyers write ``rate`` messages a minute across all accounts (0 stops them)."""
        self.state.start_simulator(rate)

    def start(self) -> Sandbox:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Avito sandbox did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
