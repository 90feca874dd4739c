"""The HTTP app: Avito's API and the control API on Litestar, Avito-style errors, and an ASGI wrapper that records
API requests and answers scripted faults."""

from __future__ import annotations

import json
from typing import Any

from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException

from core.avito.sandbox import avito_routes, control_routes
from core.avito.sandbox.errors import ApiError
from core.avito.sandbox.images import MAX_UPLOAD
from core.avito.sandbox.state import SandboxState


def _error_response(
    status: int, message: str, headers: dict[str, str] | None = None, fields: Any = None
) -> Response[Any]:
    error: dict[str, Any] = {"code": status, "message": message}
    if fields:
        error["fields"] = fields
    return Response(content={"error": error}, status_code=status, headers=headers)


def _api_error(request: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    if exc.oauth:
        return Response(content={"error": exc.message, "error_description": exc.message}, status_code=exc.status)
    return _error_response(exc.status, exc.message, exc.headers, exc.fields)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return _error_response(exc.status_code, str(exc.detail))


class _Outer:
    """ASGI wrapper: records every API request for assertions and answers scripted faults before the app."""

    def __init__(self, app: Litestar, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/sandbox/"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        fault = self.state.take_fault(path)
        if fault is not None:
            headers = [(b"content-type", b"application/json")]
            if fault.retry_after is not None:
                headers.append((b"retry-after", f"{fault.retry_after:g}".encode()))
            error = {"error": {"code": fault.status, "message": fault.message or f"scripted {fault.status}"}}
            self.state.record(method, path, fault.status)
            await send({"type": "http.response.start", "status": fault.status, "headers": headers})
            await send({"type": "http.response.body", "body": json.dumps(error).encode()})
            return
        recorded = False

        async def recording_send(message: Any) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                # Recorded before the answer leaves, so a test that got the answer also sees the record.
                self.state.record(method, path, message["status"])
                recorded = True
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if not recorded:
                self.state.record(method, path, 0)


def create_sandbox_app(state: SandboxState) -> _Outer:
    app = Litestar(
        route_handlers=[*avito_routes.ROUTES, *control_routes.ROUTES],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        on_startup=[state.startup],
        on_shutdown=[state.shutdown],
        openapi_config=None,
        request_max_body_size=MAX_UPLOAD + 1024 * 1024,
    )
    app.state.sandbox = state
    return _Outer(app, state)
