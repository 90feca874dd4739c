"""Connected Avito accounts: credentials encrypted at rest, the webhook secret, the stored token, sync progress.

Credentials and tokens are Fernet-encrypted with a key derived from SECRET_KEY (:class:`core.security.SecretBox`)
and never leave this module in clear except to the AccountActor that uses them; no read model carries them.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from core.db import queries
from core.errors import NotFound
from core.security import SecretBox

Conn = asyncpg.Connection | asyncpg.Pool

DEFAULT_API_URL = "https://api.avito.ru"


class AccountInfo(msgspec.Struct, frozen=True, kw_only=True):
    """An account as the API and CLI show it (no credentials, no tokens, no webhook secret)."""

    id: int
    avito_user_id: int
    name: str
    state: str
    state_detail: str
    scenario_id: str | None
    settings: dict[str, Any]
    sync_state: dict[str, Any]
    is_sandbox: bool
    created_at: datetime

    @property
    def api_url(self) -> str:
        return str(self.settings.get("api_url") or DEFAULT_API_URL)


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    client_secret: str
    refresh_token: str | None = None


class AccountSecrets(msgspec.Struct, frozen=True, kw_only=True):
    """What an AccountActor loads to talk to Avito (decrypted)."""

    id: int
    avito_user_id: int
    credentials: Credentials
    access_token: str | None
    token_expires_at: datetime | None
    api_url: str


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, 256 bits


def _info(row: asyncpg.Record) -> AccountInfo:
    return msgspec.convert({k: row[k] for k in AccountInfo.__struct_fields__}, AccountInfo)


async def upsert_account(
    conn: Conn,
    box: SecretBox,
    *,
    avito_user_id: int,
    name: str,
    credentials: Credentials,
    api_url: str,
    is_sandbox: bool = False,
    builtin_sandbox: bool = False,
) -> tuple[AccountInfo, str, bool]:
    """Stores a connected account; returns it, its webhook secret, and whether it is new."""
    row = await conn.fetchrow(
        queries.account_upsert,
        avito_user_id,
        name,
        box.encrypt(msgspec.json.encode(credentials)),
        new_webhook_secret(),
        is_sandbox,
        {"api_url": api_url.rstrip("/"), "builtin_sandbox": builtin_sandbox},
    )
    return _info(row), row["webhook_secret"], row["created"]


async def list_accounts(conn: Conn, *, include_removed: bool = False) -> list[AccountInfo]:
    return [_info(r) for r in await conn.fetch(queries.account_list, include_removed)]


async def get_account(conn: Conn, account_id: int) -> AccountInfo:
    row = await conn.fetchrow(queries.account_get, account_id)
    if row is None:
        raise NotFound(f"Аккаунт {account_id} не найден. Список аккаунтов: avibot account list.")
    return _info(row)


async def load_secrets(conn: Conn, box: SecretBox, account_id: int) -> AccountSecrets:
    row = await conn.fetchrow(queries.account_secrets, account_id)
    if row is None:
        raise NotFound(f"Аккаунт {account_id} не найден. Список аккаунтов: avibot account list.")
    return AccountSecrets(
        id=row["id"],
        avito_user_id=row["avito_user_id"],
        credentials=msgspec.json.decode(box.decrypt(row["credentials"]), type=Credentials),
        access_token=box.decrypt(row["access_token"]).decode() if row["access_token"] else None,
        token_expires_at=row["token_expires_at"],
        api_url=str(row["settings"].get("api_url") or DEFAULT_API_URL),
    )


async def save_token(
    conn: Conn,
    box: SecretBox,
    account_id: int,
    access_token: str,
    expires_at: datetime,
    credentials: Credentials | None = None,
) -> None:
    """Keeps a fresh token so a restart does not cost a token request; ``credentials`` when the refresh
    token changed (each refresh returns a new one, and the old one may stop working)."""
    await conn.execute(
        queries.account_save_token,
        account_id,
        box.encrypt(access_token.encode()),
        expires_at,
        box.encrypt(msgspec.json.encode(credentials)) if credentials is not None else None,
    )


async def webhook_secret(conn: Conn, account_id: int) -> str:
    secret = await conn.fetchval(queries.account_webhook_secret, account_id)
    if secret is None:
        raise NotFound(f"Аккаунт {account_id} не найден.")
    return secret


async def remove_account(conn: Conn, account_id: int) -> bool:
    """Marks the account removed and invalidates its webhook URL; False if it was already removed."""
    return await conn.fetchval(queries.account_remove, account_id, new_webhook_secret()) is not None


async def set_state(conn: Conn, account_id: int, state: str, detail: str = "") -> None:
    await conn.execute(queries.account_set_state, account_id, state, detail)


async def set_sync_state(conn: Conn, account_id: int, sync_state: dict[str, Any]) -> None:
    await conn.execute(queries.account_set_sync_state, account_id, sync_state)


async def has_external_account(conn: Conn) -> bool:
    """Any account connected besides the built-in demo sandbox's shops (a real one, or an external sandbox)."""
    return bool(await conn.fetchval(queries.account_has_external))


async def visible_account_ids(conn: Conn, user_id: int, role: str) -> list[int]:
    """What a user may see — in REST, in search and in Socket.io rooms alike."""
    return [r["id"] for r in await conn.fetch(queries.account_ids_visible, user_id, role)]


async def pause_builtin_sandbox_accounts(conn: Conn) -> None:
    await conn.execute(
        queries.account_pause_builtin,
        "Демо-песочница не запущена: подключён настоящий аккаунт Авито.",
    )


async def update_settings(conn: Conn, account_id: int, changes: dict[str, Any]) -> AccountInfo:
    """Merges keys into the account's behaviour settings (e.g. ``handoff_notice``) and returns the account."""
    await conn.execute(queries.account_set_settings, account_id, changes)
    return await get_account(conn, account_id)
