"""Who is asking: the session cookie → the user, CSRF for state-changing requests, role guards, login/logout."""

from __future__ import annotations

import secrets
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.params import JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.deps import DbPool, RedisClient
from core import sessions
from core.errors import AvibotError
from core.models import User
from core.store.users import authenticate, get_user

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The API description is public; other public routes (health, login, webhooks, the browser app's files) say
# so themselves with `exclude_from_auth=True`, next to their code.
PUBLIC_PATHS = ["^/schema"]


class TooManyAttempts(AvibotError):
    status_code = 429


class SessionAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        state = connection.app.state
        session = await sessions.load(state.redis, connection.cookies.get(sessions.COOKIE))
        if session is None:
            raise NotAuthorizedException("Войдите в систему, чтобы продолжить.")
        user = await get_user(state.db_pool, session.user_id)
        if user is None or not user.is_active:
            raise NotAuthorizedException("Учётная запись отключена. Обратитесь к администратору.")
        # Double submit: the token lives in the session and must come back in a header, which a page on another
        # site cannot set. SameSite=Lax on the cookie is the second line of defence.
        unsafe = connection.scope.get("method", "GET") not in SAFE_METHODS
        if unsafe and not secrets.compare_digest(connection.headers.get(sessions.CSRF_HEADER, ""), session.csrf):
            raise PermissionDeniedException("Сессия устарела: обновите страницу и повторите действие.")
        return AuthenticationResult(user=user, auth=session)


auth_middleware = DefineMiddleware(SessionAuthMiddleware, exclude=PUBLIC_PATHS)


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if connection.user.role != "admin":
        raise PermissionDeniedException("Недостаточно прав: это доступно только администратору.")


class LoginIn(msgspec.Struct, frozen=True):
    login: str
    password: str


class Me(msgspec.Struct, frozen=True):
    user: User
    csrf_token: str


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ("auth",)

    @post("/login", status_code=200, exclude_from_auth=True)
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[LoginIn], db_pool: DbPool, redis: RedisClient
    ) -> Response[Me]:
        throttle = sessions.LoginThrottle(redis)
        client = _client(request)
        if wait := await throttle.retry_after(data.login, client):
            raise TooManyAttempts(
                f"Слишком много неудачных попыток входа. Попробуйте снова через {max(1, round(wait / 60))} мин."
            )
        user = await authenticate(db_pool, data.login, data.password)
        if user is None:
            await throttle.failed(data.login, client)
            raise NotAuthorizedException("Неверный логин или пароль.")
        await throttle.succeeded(data.login)
        session_id, session = await sessions.create(redis, user.id)
        settings = request.app.state.settings
        cookie = Cookie(
            key=sessions.COOKIE,
            value=session_id,
            httponly=True,
            samesite="lax",
            secure=settings.base_url.startswith("https://"),
            max_age=sessions.IDLE_TTL,
            path="/",
        )
        return Response(Me(user=user, csrf_token=session.csrf), cookies=[cookie])

    @post("/logout", status_code=HTTP_204_NO_CONTENT)
    async def logout(self, request: Request[Any, Any, Any], redis: RedisClient) -> Response[None]:
        await sessions.delete(redis, request.cookies[sessions.COOKIE])
        return Response(
            None, status_code=HTTP_204_NO_CONTENT, cookies=[Cookie(key=sessions.COOKIE, value="", max_age=0, path="/")]
        )

    @get("/me")
    async def me(self, request: Request[User, sessions.Session, Any]) -> Me:
        return Me(user=request.user, csrf_token=request.auth.csrf)
