"""Login, sessions, CSRF and roles, tried from the outside over real HTTP."""

import asyncpg
import pytest

from core.store.users import create_user
from tests.conftest import AppServer, Session

pytestmark = pytest.mark.integration


async def test_anonymous_requests_are_refused_in_russian(app_server: AppServer) -> None:
    with app_server.client() as client:
        for path in ("/api/v1/auth/me", "/api/v1/kb/categories", "/api/v1/kb/search?q=x"):
            response = client.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"] == "Войдите в систему, чтобы продолжить."
        assert client.get("/healthz").status_code in (200, 503)  # public


async def test_login_session_csrf_logout(app_server: AppServer, pool: asyncpg.Pool) -> None:
    await create_user(pool, "olga", "olga-password", "operator", "Ольга")
    with app_server.client() as client:
        bad = client.post("/api/v1/auth/login", json={"login": "olga", "password": "wrong-password"})
        assert bad.status_code == 401 and bad.json()["error"] == "Неверный логин или пароль."

        good = client.post("/api/v1/auth/login", json={"login": "OLGA", "password": "olga-password"})
        assert good.status_code == 200
        cookie = good.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "avibot_session=" in cookie
        me = client.get("/api/v1/auth/me").json()
        assert me["user"]["login"] == "olga" and me["user"]["role"] == "operator"
        assert "password_hash" not in me["user"]
        csrf = good.json()["csrf_token"]
        assert me["csrf_token"] == csrf

        # A state-changing request without the CSRF header is refused, with it allowed.
        refused = client.post("/api/v1/auth/logout")
        assert refused.status_code == 403 and "обновите страницу" in refused.json()["error"]
        assert client.post("/api/v1/auth/logout", headers={"x-csrf-token": csrf}).status_code == 204
        assert client.get("/api/v1/auth/me").status_code == 401


async def test_operator_cannot_use_admin_pages(app_server: AppServer, pool: asyncpg.Pool) -> None:
    await create_user(pool, "olga", "olga-password", "operator")
    operator = Session(app_server, "olga", "olga-password")
    response = operator.get("/api/v1/kb/categories")
    assert response.status_code == 403 and "администратору" in response.json()["error"]
    assert operator.put("/api/v1/kb/articles/x", json={"title": "t", "text": "t"}).status_code == 403
    operator.client.close()


async def test_deactivated_user_loses_the_session(app_server: AppServer, pool: asyncpg.Pool) -> None:
    user = await create_user(pool, "olga", "olga-password", "operator")
    operator = Session(app_server, "olga", "olga-password")
    assert operator.get("/api/v1/auth/me").status_code == 200
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", user.id)
    assert operator.get("/api/v1/auth/me").status_code == 401
    operator.client.close()


async def test_login_attempts_are_limited(app_server: AppServer, pool: asyncpg.Pool) -> None:
    await create_user(pool, "olga", "olga-password", "operator")
    with app_server.client() as client:
        for _ in range(10):
            assert client.post("/api/v1/auth/login", json={"login": "olga", "password": "nope-nope"}).status_code == 401
        blocked = client.post("/api/v1/auth/login", json={"login": "olga", "password": "olga-password"})
        assert blocked.status_code == 429 and "Попробуйте снова через" in blocked.json()["error"]
