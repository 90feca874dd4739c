"""Users: the people who log in."""

from __future__ import annotations

import asyncpg
import msgspec

from core.db import queries
from core.errors import Conflict, InvalidInput
from core.models import Role, User, UserWithHash
from core.security import MIN_PASSWORD_LENGTH, hash_password, needs_rehash, verify_password


async def create_user(
    conn: asyncpg.Connection | asyncpg.Pool, login: str, password: str, role: Role, display_name: str = ""
) -> User:
    if role not in ("admin", "operator"):
        raise InvalidInput(f"Роль «{role}» не подходит: укажите admin или operator.")
    try:
        password_hash = hash_password(password)
    except ValueError:  # hash_password's only refusal: a password shorter than MIN_PASSWORD_LENGTH
        raise InvalidInput(
            f"Пароль слишком короткий: нужно не меньше {MIN_PASSWORD_LENGTH} символов. Придумайте пароль длиннее."
        ) from None
    try:
        row = await conn.fetchrow(queries.insert_user, login, password_hash, role, display_name or login)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"Пользователь с логином «{login}» уже существует (регистр букв в логине не важен). Выберите другой логин."
        ) from None
    except asyncpg.CheckViolationError:
        raise InvalidInput(
            f"Логин «{login}» не подходит: используйте от 1 до 64 латинских букв, цифр и символов . _ @ -"
        ) from None
    return msgspec.convert(dict(row), User)


async def get_user_by_login(conn: asyncpg.Connection | asyncpg.Pool, login: str) -> UserWithHash | None:
    row = await conn.fetchrow(queries.get_user_by_login, login)
    return None if row is None else msgspec.convert(dict(row), UserWithHash)


async def get_user(conn: asyncpg.Connection | asyncpg.Pool, user_id: int) -> User | None:
    row = await conn.fetchrow(queries.get_user, user_id)
    return None if row is None else msgspec.convert(dict(row), User)


async def count_users(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    return await conn.fetchval(queries.count_users)


async def authenticate(conn: asyncpg.Connection | asyncpg.Pool, login: str, password: str) -> User | None:
    """The active user with this login and password, or None; upgrades an outdated hash on the way."""
    if not 0 < len(login) <= 64:
        return None
    found = await get_user_by_login(conn, login)
    if found is None or not found.is_active or not verify_password(found.password_hash, password):
        return None
    if needs_rehash(found.password_hash):
        await conn.execute(queries.set_password, found.id, hash_password(password))
    last_login_at = await conn.fetchval(queries.record_login, found.id)
    fields = {f: getattr(found, f) for f in User.__struct_fields__}
    return User(**{**fields, "last_login_at": last_login_at})


class Preferences(msgspec.Struct, frozen=True, kw_only=True):
    """The messenger's per-user switches."""

    sound: bool = True
    notifications: bool = True


async def selected_accounts(conn: asyncpg.Connection | asyncpg.Pool, user_id: int) -> list[int] | None:
    """The accounts ticked in «Аккаунты (N)»; None: all the user may see."""
    row = await conn.fetchrow(queries.user_selected_accounts, user_id)
    return None if row is None or row["selected_account_ids"] is None else list(row["selected_account_ids"])


async def set_selected_accounts(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: int, account_ids: list[int] | None
) -> None:
    await conn.execute(queries.user_set_selected_accounts, user_id, account_ids)


async def preferences(conn: asyncpg.Connection | asyncpg.Pool, user_id: int) -> Preferences:
    row = await conn.fetchrow(queries.user_selected_accounts, user_id)
    stored = (row["preferences"] if row is not None else None) or {}
    return msgspec.convert(stored, Preferences)


async def update_preferences(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: int, changes: dict[str, bool]
) -> Preferences:
    stored = await conn.fetchval(queries.user_merge_preferences, user_id, changes)
    return msgspec.convert(stored or {}, Preferences)


async def grant_accounts(conn: asyncpg.Connection | asyncpg.Pool, user_id: int, account_ids: list[int]) -> list[int]:
    """Lets an operator see these accounts; returns every account granted to them now."""
    await conn.execute(queries.user_grant_accounts, user_id, account_ids)
    return [r["account_id"] for r in await conn.fetch(queries.user_granted_accounts, user_id)]


async def revoke_accounts(conn: asyncpg.Connection | asyncpg.Pool, user_id: int, account_ids: list[int]) -> list[int]:
    await conn.execute(queries.user_revoke_accounts, user_id, account_ids)
    return [r["account_id"] for r in await conn.fetch(queries.user_granted_accounts, user_id)]
