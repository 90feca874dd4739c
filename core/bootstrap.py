"""What `avibot up` does to a database before serving: migrate it and, on first run, create an admin."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from core import db
from core.migrate import Migration, migrate
from core.store.users import count_users, create_user

FIRST_ADMIN_LOGIN = "admin"


@dataclass(frozen=True, slots=True)
class Prepared:
    applied: list[Migration]
    admin_password: str | None  # set only on the run that created the first admin


async def prepare(database_url: str, data_dir: Path) -> Prepared:
    conn = await db.connect(database_url)
    try:
        applied = await migrate(conn)
        password = None
        async with conn.transaction():
            # The lock makes two first runs against one database create one admin, not two.
            await conn.execute("LOCK TABLE users IN EXCLUSIVE MODE")
            if await count_users(conn) == 0:
                password = secrets.token_urlsafe(12)
                await create_user(conn, FIRST_ADMIN_LOGIN, password, "admin", "Администратор")
        if password is not None:
            _keep_password(data_dir, password)
        return Prepared(applied, password)
    finally:
        await conn.close()


def _keep_password(data_dir: Path, password: str) -> None:
    """Also saved (0600) so a `make demo` user who missed the terminal line can still log in."""
    path = data_dir / "initial-admin-password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{FIRST_ADMIN_LOGIN} {password}\n")
