"""Users: the people who log in."""

from __future__ import annotations

import asyncpg
import msgspec

from core.db import queries
from core.errors import Conflict, InvalidInput
from core.models import Role, User, UserWithHash
from core.security import hash_password, needs_rehash, verify_password


async def create_user(
    conn: asyncpg.Connection | asyncpg.Pool, login: str, password: str, role: Role, display_name: str = ""
) -> User:
    if role not in ("admin", "operator"):
        raise InvalidInput(f"role must be admin or operator, not {role!r}")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    try:
        row = await conn.fetchrow(queries.insert_user, login, password_hash, role, display_name or login)
    except asyncpg.UniqueViolationError:
        raise Conflict(f"a user with login {login!r} already exists") from None
    except asyncpg.CheckViolationError:
        raise InvalidInput(f"login {login!r} is not allowed: use 1–64 Latin letters, digits and . _ @ -") from None
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
