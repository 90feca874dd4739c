"""Avito's API as the sandbox serves it: token, account, items, chats, messages, uploads, webhook subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath

from core.avito.sandbox.errors import ApiError
from core.avito.sandbox.request import authorize, csv_param, int_param, json_body, ok, state_of


@post("/token", status_code=200)
async def token(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return state_of(request).issue_token({k: str(v) for k, v in form.items()})


@get("/core/v1/accounts/self")
async def accounts_self(request: Request[Any, Any, Any]) -> dict[str, Any]:
    account = state_of(request).accounts[authorize(request)]
    return {
        "id": account.user_id,
        "name": account.name,
        "email": account.email,
        "phone": account.phone,
        "phones": [account.phone] if account.phone else [],
        "profile_url": f"https://www.avito.ru/user/{account.user_id}/profile",
    }


@get("/core/v1/items")
async def items_list(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state, account_id = state_of(request), authorize(request)
    per_page = int_param(request, "per_page", 25, 1, 100)
    page = int_param(request, "page", 1, 1, 10_000)
    statuses = set(csv_param(request, "status")) or {"active"}
    own = [i for i in state.items.values() if i.account_id == account_id and i.status in statuses]
    resources = [
        {
            "id": item.id,
            "title": item.title,
            "price": item.price,
            "status": item.status,
            "url": state.item_url(item),
            "address": "Казань, ул. Баумана, 1",
            "category": {"id": 34, "name": "Велосипеды"},
        }
        for item in own[(page - 1) * per_page : page * per_page]
    ]
    return {"meta": {"page": page, "per_page": per_page}, "resources": resources}


@get("/core/v1/accounts/{user_id:int}/items/{item_id:int}")
async def item_info(request: Request[Any, Any, Any], user_id: FromPath[int], item_id: FromPath[int]) -> dict[str, Any]:
    state, account_id = state_of(request), authorize(request, user_id)
    item = state.items.get(item_id)
    if item is None or item.account_id != account_id:
        raise ApiError(404, "Item not found")
    started = datetime.fromtimestamp(item.created, UTC)
    return {
        "status": item.status,
        "url": state.item_url(item),
        "start_time": started.isoformat(),
        "finish_time": datetime.fromtimestamp(item.created + 30 * 86400, UTC).isoformat(),
        "autoload_item_id": None,
    }


@get("/messenger/v2/accounts/{user_id:int}/chats")
async def chats_list(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    account_id = authorize(request, user_id)
    try:
        item_ids = {int(i) for i in csv_param(request, "item_ids")}
    except ValueError:
        raise ApiError(400, "Validation error", fields={"item_ids": "integers"}) from None
    chat_types = set(csv_param(request, "chat_types")) or {"u2i"}  # Avito's default: u2i only
    chats = state_of(request).list_chats(
        account_id,
        item_ids=item_ids or None,
        unread_only=request.query_params.get("unread_only", "false").lower() in ("true", "1"),
        chat_types=chat_types,
        limit=int_param(request, "limit", 100, 1, 100),
        offset=int_param(request, "offset", 0, 0, 1000),
    )
    return {"chats": chats}


@get("/messenger/v2/accounts/{user_id:int}/chats/{chat_id:str}")
async def chat_one(request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]) -> dict[str, Any]:
    return state_of(request).get_chat(authorize(request, user_id), chat_id)


@get("/messenger/v3/accounts/{user_id:int}/chats/{chat_id:str}/messages")
async def messages_list(request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]) -> Any:
    state = state_of(request)
    messages = state.list_messages(
        authorize(request, user_id),
        chat_id,
        limit=int_param(request, "limit", 100, 1, 100),
        offset=int_param(request, "offset", 0, 0, 1000),
    )
    return messages if state.config.messages_shape == "bare" else {"messages": messages}


@post("/messenger/v1/accounts/{user_id:int}/chats/{chat_id:str}/messages", status_code=200)
async def send_message(
    request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]
) -> dict[str, Any]:
    account_id = authorize(request, user_id)
    body = await json_body(request)
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("type") != "text" or not isinstance(message, dict):
        raise ApiError(400, "Validation error", fields={"type": "must be text", "message": "required"})
    text = message.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "Validation error", fields={"message.text": "required"})
    return state_of(request).send_text(account_id, chat_id, text)


@post("/messenger/v1/accounts/{user_id:int}/chats/{chat_id:str}/messages/image", status_code=200)
async def send_image(request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]) -> dict[str, Any]:
    account_id = authorize(request, user_id)
    body = await json_body(request)
    image_id = body.get("image_id") if isinstance(body, dict) else None
    if not isinstance(image_id, str):
        raise ApiError(400, "Validation error", fields={"image_id": "required"})
    return state_of(request).send_image(account_id, chat_id, image_id)


@post("/messenger/v1/accounts/{user_id:int}/chats/{chat_id:str}/messages/{message_id:str}", status_code=200)
async def delete_message(
    request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str], message_id: FromPath[str]
) -> dict[str, Any]:
    state_of(request).delete_message(authorize(request, user_id), chat_id, message_id)
    return {}


@post("/messenger/v1/accounts/{user_id:int}/uploadImages", status_code=200)
async def upload_images(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    account_id = authorize(request, user_id)
    form = await request.form()
    upload = form.get("uploadfile[]")
    if upload is None or isinstance(upload, str):
        raise ApiError(400, "Validation error", fields={"uploadfile[]": "one image file required"})
    return state_of(request).upload_image(account_id, await upload.read())


@post("/messenger/v1/accounts/{user_id:int}/chats/{chat_id:str}/read", status_code=200)
async def mark_read(request: Request[Any, Any, Any], user_id: FromPath[int], chat_id: FromPath[str]) -> dict[str, bool]:
    state_of(request).mark_read(authorize(request, user_id), chat_id)
    return ok()


@post("/messenger/v2/accounts/{user_id:int}/blacklist", status_code=200)
async def blacklist(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    account_id = authorize(request, user_id)
    state_of(request).blacklist(account_id, await json_body(request))
    return {}


@get("/messenger/v1/accounts/{user_id:int}/getVoiceFiles")
async def voice_files(request: Request[Any, Any, Any], user_id: FromPath[int]) -> dict[str, Any]:
    authorize(request, user_id)
    return {"voices_urls": state_of(request).voice_urls(csv_param(request, "voice_ids"))}


async def _webhook_url(request: Request[Any, Any, Any]) -> str:
    body = await json_body(request)
    url = body.get("url") if isinstance(body, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "Validation error", fields={"url": "an http(s) URL is required"})
    return url


@post("/messenger/v3/webhook", status_code=200)
async def webhook_subscribe(request: Request[Any, Any, Any]) -> dict[str, bool]:
    account_id = authorize(request)
    state_of(request).subscribe(account_id, await _webhook_url(request))
    return ok()


@post("/messenger/v1/webhook/unsubscribe", status_code=200)
async def webhook_unsubscribe(request: Request[Any, Any, Any]) -> dict[str, bool]:
    account_id = authorize(request)
    state_of(request).unsubscribe(account_id, await _webhook_url(request))
    return ok()


@post("/messenger/v1/subscriptions", status_code=200)
async def webhook_list(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state, account_id = state_of(request), authorize(request)
    return {"subscriptions": [{"url": url, "version": "3"} for url in state.subscriptions[account_id]]}


ROUTES = [
    token,
    accounts_self,
    items_list,
    item_info,
    chats_list,
    chat_one,
    messages_list,
    send_message,
    send_image,
    delete_message,
    upload_images,
    mark_read,
    blacklist,
    voice_files,
    webhook_subscribe,
    webhook_unsubscribe,
    webhook_list,
]
