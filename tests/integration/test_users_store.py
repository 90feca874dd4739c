import asyncpg
import pytest

from core.errors import Conflict, InvalidInput
from core.security import verify_password
from core.store.users import count_users, create_user, get_user, get_user_by_login

pytestmark = pytest.mark.integration


async def test_create_and_read_user(pool: asyncpg.Pool) -> None:
    assert await count_users(pool) == 0
    user = await create_user(pool, "Olga", "долгий-пароль", "operator", "Ольга")
    assert user.role == "operator" and user.display_name == "Ольга" and user.is_active
    found = await get_user_by_login(pool, "olga")  # logins are case-insensitive
    assert found is not None and found.id == user.id
    assert verify_password(found.password_hash, "долгий-пароль")
    assert await get_user(pool, user.id) == user
    assert await count_users(pool) == 1


async def test_duplicate_login_is_a_conflict(pool: asyncpg.Pool) -> None:
    await create_user(pool, "admin", "password-1", "admin")
    with pytest.raises(Conflict, match="Пользователь с логином «ADMIN» уже существует"):
        await create_user(pool, "ADMIN", "password-2", "admin")


@pytest.mark.parametrize(
    ("login", "password", "role", "needle"),
    [
        ("bad login", "password-1", "admin", "Логин «bad login» не подходит"),
        ("ok", "short", "admin", "не меньше 8 символов"),
        ("ok", "password-1", "root", "Роль «root» не подходит"),
    ],
)
async def test_bad_input_is_rejected(pool: asyncpg.Pool, login: str, password: str, role: str, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        await create_user(pool, login, password, role)  # type: ignore[arg-type]
    assert await count_users(pool) == 0
