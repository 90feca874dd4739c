"""The browser app: the files Vite built into ``ui/dist``, with ``index.html`` for every other page path, so a
reload on any screen of the single-page app works. API, webhook and Socket.io paths never fall back to it."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File

DIST = Path(__file__).resolve().parents[1] / "ui" / "dist"
NOT_PAGES = ("api/", "webhooks/", "socket.io/", "schema", "healthz")
# Vite names built assets by content hash, so they never change under the same name.
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
NO_CACHE = {"Cache-Control": "no-cache"}
NOT_BUILT = (
    "<!doctype html><meta charset=utf-8><title>avibot</title>"
    "<p>Интерфейс ещё не собран. Выполните <code>make demo</code> (он собирает ui/) и обновите страницу.</p>"
)


@get("/", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def browser_app_index() -> File | Response[str]:
    return _index()


@get("/{path:path}", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def browser_app(path: FromPath[str]) -> File | Response[str]:
    path = path.lstrip("/")
    if path.startswith(NOT_PAGES):
        raise NotFoundException("Такого адреса нет.")
    if path:
        file = (DIST / path).resolve()
        if file.is_file() and DIST in file.parents:
            headers = IMMUTABLE if path.startswith("assets/") else NO_CACHE
            media_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            return File(file, headers=headers, media_type=media_type, content_disposition_type="inline")
        if path.startswith("assets/"):
            raise NotFoundException("Такого файла нет: обновите страницу.")
    return _index()


def _index() -> File | Response[str]:
    index = DIST / "index.html"
    if not index.is_file():
        return Response(NOT_BUILT, media_type="text/html", status_code=503)
    return File(index, headers=NO_CACHE, media_type="text/html; charset=utf-8", content_disposition_type="inline")
