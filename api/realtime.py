"""The Socket.io server browsers connect to at `/socket.io`.

A connection is authenticated by the same session cookie as REST and joins the rooms ``account:{id}`` of the
accounts its user may see; events (:mod:`core.events`) published by any process through Redis reach it there.
`resync` re-reads the visible accounts (after an admin granted one) and tells the client which rooms it is in;
after a reconnect the browser refetches what it shows, so nothing published while it was away is lost.
"""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from typing import Any

import socketio

from core import sessions
from core.events import room_of
from core.store.accounts import visible_account_ids
from core.store.users import get_user

log = logging.getLogger(__name__)


def _session_cookie(environ: dict[str, Any]) -> str | None:
    raw = environ.get("HTTP_COOKIE", "")
    if not raw:
        scope = environ.get("asgi.scope") or {}
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                raw = value.decode("latin-1")
    cookie = SimpleCookie()
    cookie.load(raw)
    morsel = cookie.get(sessions.COOKIE)
    return morsel.value if morsel is not None else None


def create_socket_server(redis_url: str, app_state: Any) -> socketio.AsyncServer:
    """``app_state``: the Litestar app's state, which holds the pool and Redis once the app has started."""
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=socketio.AsyncRedisManager(redis_url),
        cors_allowed_origins=[],  # same origin only: the browser app is served by this server
        logger=False,
        engineio_logger=False,
    )

    async def join_rooms(sid: str, user_id: int, role: str) -> list[int]:
        accounts = await visible_account_ids(app_state.db_pool, user_id, role)
        wanted = {room_of(a) for a in accounts}
        for room in set(sio.rooms(sid)) - wanted - {sid}:
            await sio.leave_room(sid, room)
        for room in wanted:
            await sio.enter_room(sid, room)
        return accounts

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        session = await sessions.load(app_state.redis, _session_cookie(environ))
        user = await get_user(app_state.db_pool, session.user_id) if session is not None else None
        if user is None or not user.is_active:
            raise socketio.exceptions.ConnectionRefusedError("Войдите в систему, чтобы получать новые сообщения.")
        await sio.save_session(sid, {"user_id": user.id, "role": user.role})
        accounts = await join_rooms(sid, user.id, user.role)
        await sio.emit("ready", {"accounts": accounts}, to=sid)

    @sio.event
    async def resync(sid: str, data: Any = None) -> dict[str, Any]:
        saved = await sio.get_session(sid)
        return {"accounts": await join_rooms(sid, saved["user_id"], saved["role"])}

    return sio
