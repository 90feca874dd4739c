"""What route handlers read from a request: the sandbox's state, the account the token acts for, the JSON
body, query parameters in Avito's forms."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request

from core.avito.sandbox.errors import ApiError
from core.avito.sandbox.state import SandboxState


def state_of(request: Request[Any, Any, Any]) -> SandboxState:
    return request.app.state.sandbox  # type: ignore[no-any-return]


def authorize(request: Request[Any, Any, Any], user_id: int | None = None) -> int:
    return state_of(request).authorize(request.headers.get("authorization", ""), user_id)


async def json_body(request: Request[Any, Any, Any]) -> Any:
    body = await request.body()
    try:
        return json.loads(body or b"{}")
    except ValueError as exc:
        raise ApiError(400, f"invalid JSON: {exc}") from exc


def int_param(request: Request[Any, Any, Any], name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "Validation error", fields={name: "must be an integer"}) from None
    if not low <= value <= high:
        raise ApiError(400, "Validation error", fields={name: f"must be within {low}..{high}"})
    return value


def csv_param(request: Request[Any, Any, Any], name: str) -> list[str]:
    """A list parameter given as a comma list, repeated, or both."""
    return [part for value in request.query_params.getall(name, []) for part in value.split(",") if part]


def ok() -> dict[str, bool]:
    return {"ok": True}
