"""The one place where our exceptions become HTTP responses."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException

from core.errors import AvibotError

log = logging.getLogger(__name__)


def avibot_error_handler(request: Request, exc: AvibotError) -> Response[dict[str, str]]:
    if exc.status_code >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return Response({"error": str(exc)}, status_code=exc.status_code)


def http_error_handler(request: Request, exc: HTTPException) -> Response[dict[str, object]]:
    body: dict[str, object] = {"error": exc.detail}
    if exc.extra:
        body["details"] = exc.extra
    return Response(body, status_code=exc.status_code, headers=exc.headers)


def unexpected_error_handler(request: Request, exc: Exception) -> Response[dict[str, str]]:
    """A bug, not a bad request: logged with its traceback, answered without details."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return Response(
        {"error": "Внутренняя ошибка сервера. Повторите действие; если ошибка не пройдёт, сообщите администратору."},
        status_code=500,
    )


EXCEPTION_HANDLERS = {
    AvibotError: avibot_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
