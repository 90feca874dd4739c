"""The control API under ``/sandbox/…`` (inject messages, expire tokens, faults, behaviours, what happened) and
the generated files Avito's answers link to (item photos, avatars, uploads, voice messages)."""

from __future__ import annotations

import struct
from typing import Any, Literal

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.handlers import delete as delete_handler
from litestar.params import FromPath

from core.avito.sandbox.config import Fault
from core.avito.sandbox.errors import ApiError
from core.avito.sandbox.images import AVATAR_SIZES, ITEM_SIZES, avatar_image, item_image
from core.avito.sandbox.request import json_body, ok, state_of
from core.avito.sandbox.state import SandboxState


class InjectBody(msgspec.Struct, kw_only=True):
    user_id: int
    text: str | None = None
    chat_id: str | None = None
    item_id: int | None = None
    chat_type: Literal["u2i", "u2u"] = "u2i"
    type: str = "text"
    content: dict[str, Any] | None = None
    author: Literal["buyer", "system"] = "buyer"


@post("/sandbox/inject", status_code=200)
async def control_inject(request: Request[Any, Any, Any]) -> dict[str, str]:
    try:
        body = msgspec.json.decode(await request.body(), type=InjectBody)
    except msgspec.ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    fields = msgspec.structs.asdict(body)
    chat_id, message_id = state_of(request).inject(fields.pop("user_id"), **fields)
    return {"chat_id": chat_id, "message_id": message_id}


@get("/sandbox/chats/{chat_id:str}/messages")
async def control_history(request: Request[Any, Any, Any], chat_id: FromPath[str]) -> list[dict[str, Any]]:
    return state_of(request).chat_history(chat_id)


@get("/sandbox/accounts")
async def control_accounts(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    state = state_of(request)
    return [
        {
            **msgspec.to_builtins(account),
            "items": [i.id for i in state.items.values() if i.account_id == account.user_id],
            "chats": [c.id for c in state.chats_of(account.user_id)],
        }
        for account in state.accounts.values()
    ]


@post("/sandbox/accounts/{user_id:int}/code", status_code=200)
async def control_code(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, str]:
    return {"code": state_of(request).authorization_code(user_id)}


@post("/sandbox/accounts/{user_id:int}/expire", status_code=200)
async def control_expire(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, bool]:
    state_of(request).expire_tokens(user_id)
    return ok()


def _config_view(state: SandboxState) -> dict[str, Any]:
    config: dict[str, Any] = msgspec.to_builtins(state.config)
    config.pop("accounts")
    return config


@get("/sandbox/config")
async def control_config(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return _config_view(state_of(request))


@patch("/sandbox/config")
async def control_configure(request: Request[Any, Any, Any]) -> dict[str, Any]:
    changes = await json_body(request)
    if not isinstance(changes, dict):
        raise ApiError(400, "a JSON object of settings is expected")
    try:
        state_of(request).configure(**changes)
    except msgspec.ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    return _config_view(state_of(request))


@post("/sandbox/faults", status_code=200)
async def control_fault(request: Request[Any, Any, Any]) -> dict[str, bool]:
    try:
        fault = msgspec.json.decode(await request.body(), type=Fault)
    except msgspec.ValidationError as exc:
        raise ApiError(400, str(exc)) from None
    state_of(request).add_fault(fault)
    return ok()


@delete_handler("/sandbox/faults", status_code=200)
async def control_clear_faults(request: Request[Any, Any, Any]) -> dict[str, bool]:
    state_of(request).clear_faults()
    return ok()


@post("/sandbox/simulator", status_code=200)
async def control_simulator(request: Request[Any, Any, Any]) -> dict[str, Any]:
    body = await json_body(request)
    rate = body.get("rate") if isinstance(body, dict) else None
    if not isinstance(rate, int | float) or rate < 0:
        raise ApiError(400, "Validation error", fields={"rate": "messages per minute, ≥ 0"})
    state_of(request).start_simulator(float(rate))
    return {"rate": float(rate)}


@get("/sandbox/deliveries")
async def control_deliveries(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    state = state_of(request)
    with state._lock:
        return [msgspec.to_builtins(d) for d in state.deliveries]


@get("/sandbox/requests")
async def control_requests(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    state = state_of(request)
    with state._lock:
        return [msgspec.to_builtins(c) for c in state.calls]


@get("/sandbox/stats")
async def control_stats(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state = state_of(request)
    with state._lock:
        grants: dict[str, int] = {}
        for grant in state.token_grants:
            grants[grant] = grants.get(grant, 0) + 1
        return {"token_grants": grants, "chats": len(state.chats), "deliveries": len(state.deliveries)}


def _png_response(data: bytes) -> Response[bytes]:
    return Response(content=data, media_type="image/png", headers={"cache-control": "public, max-age=86400"})


def _size(name: str, allowed: tuple[int, ...]) -> int:
    size = int(name.removesuffix(".png")) if name.removesuffix(".png").isdigit() else 0
    if size not in allowed:
        raise ApiError(404, "no such image size")
    return size


@get("/sandbox/images/items/{item_id:int}/{name:str}")
async def image_item(item_id: FromPath[int], name: FromPath[str]) -> Response[bytes]:
    return _png_response(item_image(item_id, _size(name, ITEM_SIZES)))


@get("/sandbox/images/avatars/{user_id:int}/{name:str}")
async def image_avatar(user_id: FromPath[int], name: FromPath[str]) -> Response[bytes]:
    return _png_response(avatar_image(user_id, _size(name, AVATAR_SIZES)))


@get("/sandbox/images/uploads/{image_id:str}")
async def image_upload(request: Request[Any, Any, Any], image_id: FromPath[str]) -> Response[bytes]:
    upload = state_of(request).uploads.get(image_id)
    if upload is None:
        raise ApiError(404, "no such image")
    return Response(content=upload[2], media_type=upload[1])


@get("/sandbox/voice/{name:str}")
async def voice_file(name: FromPath[str]) -> Response[bytes]:
    # Not a playable Opus file: an MP4 'ftyp' box only, enough for code that downloads and stores it.
    data = struct.pack(">I", 20) + b"ftypM4A \x00\x00\x00\x00M4A "
    return Response(content=data, media_type="audio/mp4")


ROUTES = [
    control_inject,
    control_history,
    control_accounts,
    control_code,
    control_expire,
    control_config,
    control_configure,
    control_fault,
    control_clear_faults,
    control_simulator,
    control_deliveries,
    control_requests,
    control_stats,
    image_item,
    image_avatar,
    image_upload,
    voice_file,
]
