"""What a sandbox is set up with: its accounts, its behaviours (``SandboxConfig``) and scripted faults."""

from __future__ import annotations

import random
from typing import Literal

import msgspec


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


# Shops beyond the default two are named like sellers name them on Avito: a kind of shop and a place.
_SHOP_KINDS = (
    "Велосалон", "Веломастерская", "Байк-центр", "Два колеса", "ВелоДрайв", "Велопрокат", "Педаль", "Колесо",
    "ВелоСклад", "Велогараж", "Спицы и втулки", "Горный велосипед",
)  # fmt: skip
_SHOP_PLACES = (
    "Казань", "на Баумана", "на Кремлёвской", "Набережные Челны", "Елабуга", "Зеленодольск", "Альметьевск",
    "Нижнекамск", "в Азино", "на Пушкина", "Иннополис", "Чистополь",
)  # fmt: skip
MAX_ACCOUNTS = 100


def demo_accounts(count: int, seed: int | None = None) -> list[SandboxAccount]:
    """``count`` demo shops: the two default ones, then generated ones with a Russian shop name and credentials
    and contacts of their own. The same seed gives the same accounts (no seed counts as one), so a restarted
    sandbox still accepts the credentials an app was connected with."""
    if not 1 <= count <= MAX_ACCOUNTS:
        raise ValueError(f"the sandbox has 1 to {MAX_ACCOUNTS} accounts, not {count}")
    accounts = _default_accounts()[:count]
    rng = random.Random(f"avito-sandbox-accounts:{seed}")
    taken = {account.name for account in accounts}
    names = [name for kind in _SHOP_KINDS for place in _SHOP_PLACES if (name := f"{kind} {place}") not in taken]
    rng.shuffle(names)
    for n in range(len(accounts) + 1, count + 1):
        accounts.append(
            SandboxAccount(
                user_id=301_000_000 + n,
                name=names.pop(),
                client_id=f"sandbox-client-{n}",
                client_secret=f"sandbox-secret-{n}-{rng.getrandbits(48):012x}",
                email=f"shop{n}@example.ru",
                phone=f"+7927{n:07d}",
            )
        )
    return accounts


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
    # A delivery lost for good (not sent, not retried), as Avito's sometimes are: what the polling fallback is for.
    webhook_drop_probability: float = 0.0
    webhook_retries: int = 3  # further attempts after a failed one (non-2xx, timeout, refused)
    webhook_retry_backoff: float = 0.5  # seconds before the first retry, doubled for each next one
    webhook_timeout: float = 2.0  # Avito wants 200 within 2 s
    simulator_rate: float = 0.0  # buyer messages per minute over all accounts; 0: off
    seed: int | None = None


# Fields that may change while the sandbox runs (accounts and credentials may not).
RUNTIME_FIELDS = frozenset(SandboxConfig.__struct_fields__) - {"accounts", "app_client_id", "app_client_secret"}


class Fault(msgspec.Struct, kw_only=True):
    """The next ``count`` API requests whose path contains ``path_contains`` get ``status`` (``/token`` only when
    the filter names it, so a 401 storm does not also break the refresh it provokes)."""

    status: int
    count: int = 1
    retry_after: float | None = None
    path_contains: str = ""
    message: str = ""
