"""Domain Structs returned by the store functions (read models; the API has its own request Structs)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

Role = Literal["admin", "operator"]


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    login: str
    role: Role
    display_name: str
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None = None


class UserWithHash(User, frozen=True, kw_only=True):
    """Only the login path reads the hash; nothing that leaves the process carries it."""

    password_hash: str
