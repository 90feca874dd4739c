"""The messenger's REST API on the live path and the Avito sandbox: the «Бот» / «Мои» lists with cursor paging,
a chat's messages, operator sends (text split and retried safely, images), taking a chat and handing it back,
read marks (also on Avito), the accounts filter, quick replies — and the line between accounts: an operator sees
only the accounts granted to them, in REST and in Socket.io events alike."""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import socketio

from core.store.users import create_user, grant_accounts
from tests.integration.live import Browser, Listener, Stack, eventually, replies_in

pytestmark = pytest.mark.integration


def png(width: int = 4, height: int = 4) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.fixture
def boss(login: Callable[[str, str], Browser]) -> Browser:
    return login("boss", "boss-password")


async def answered_chat(stack: Stack, text: str = "Здравствуйте", account: int = 0) -> dict[str, Any]:
    """A buyer writes to a shop and the bot answers; the chat's row in our database."""
    user_id = stack.accounts[account].account.avito_user_id
    avito_chat_id, _ = stack.sandbox.state.inject(user_id, text=text)
    await eventually(lambda: replies_in(stack.sandbox, avito_chat_id, user_id), 10, "the bot's reply")
    await stack.settled(avito_chat_id)
    return dict(await stack.chat(avito_chat_id))


async def stored(stack: Stack, chat: dict[str, Any], text: str) -> None:
    """A buyer's message has arrived in our database and every turn of its chat has run."""
    await eventually(
        lambda: stack.pool.fetchval(
            "SELECT count(*) > 0 FROM messages WHERE chat_id = $1 AND text = $2", chat["id"], text
        ),
        10,
        f"«{text}» stored",
    )
    await stack.settled(chat["avito_chat_id"])


async def test_the_bot_tab_lists_chats_newest_first_with_buyer_listing_and_paging(stack: Stack, boss: Browser) -> None:
    chats = [await answered_chat(stack, text) for text in ("Здравствуйте", "Доставка есть?", "Можно картой?")]
    await eventually(lambda: stack.pool.fetchval("SELECT bool_and(buyer_id IS NOT NULL) FROM chats"), 10, "buyers")
    first = boss.get("/api/v1/chats", params={"tab": "bot", "limit": 2}).json()
    assert [c["id"] for c in first["items"]] == [chats[2]["id"], chats[1]["id"]]
    assert first["counts"]["bot"]["chats"] == 3 and first["counts"]["mine"]["chats"] == 0
    row = first["items"][0]
    assert row["mode"] == "bot" and row["account_name"] and row["buyer"]["name"] and row["buyer"]["avatar_url"]
    assert row["item"]["title"] and row["item"]["image_url"] and row["last_message_author"] == "bot"
    rest = boss.get("/api/v1/chats", params={"tab": "bot", "limit": 2, "cursor": first["next_cursor"]}).json()
    assert [c["id"] for c in rest["items"]] == [chats[0]["id"]] and rest["next_cursor"] is None
    assert boss.get("/api/v1/chats", params={"tab": "mine"}).json()["items"] == []
    bad = boss.get("/api/v1/chats", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and "обновите" in bad.json()["error"]


async def test_messages_come_oldest_first_in_pages_and_around_a_message(stack: Stack, boss: Browser) -> None:
    chat = await answered_chat(stack, "Здравствуйте")
    for replies, text in enumerate(("Доставка есть?", "Можно картой?"), start=2):
        stack.sandbox.state.inject(stack.user_id, text=text, chat_id=chat["avito_chat_id"])
        await stack.replies(chat["avito_chat_id"], count=replies)
    await eventually(
        lambda: stack.pool.fetchval("SELECT count(*) >= 6 FROM messages WHERE chat_id = $1", chat["id"]), 10, "6"
    )
    page = boss.get(f"/api/v1/chats/{chat['id']}/messages", params={"limit": 4}).json()
    kinds = [m["author_kind"] for m in page["items"]]
    assert kinds == ["client", "bot", "client", "bot"] and page["has_older"] and not page["has_newer"]
    assert page["items"][2]["text"] == "Можно картой?"
    older = boss.get(f"/api/v1/chats/{chat['id']}/messages", params={"before": page["items"][0]["id"]}).json()
    assert older["items"][0]["text"] == "Здравствуйте" and not older["has_older"]
    hit = older["items"][0]["id"]
    around = boss.get(f"/api/v1/chats/{chat['id']}/messages", params={"around": hit, "limit": 2}).json()
    assert around["items"][0]["id"] == hit and around["has_newer"] and not around["has_older"]


async def test_an_operator_reply_reaches_avito_once_even_when_retried(stack: Stack, boss: Browser) -> None:
    listener = Listener()
    await listener.connect(stack.server.url, "boss", "boss-password")
    chat = await answered_chat(stack)
    request_id = str(uuid.uuid4())
    body = {"text": "Добрый день! Это Анна, менеджер магазина.", "request_id": request_id}
    first = boss.post(f"/api/v1/chats/{chat['id']}/messages", json=body)
    assert first.status_code == 201, first.text
    again = boss.post(f"/api/v1/chats/{chat['id']}/messages", json=body)  # the browser retried
    assert again.json()["messages"] == first.json()["messages"]
    [sent] = first.json()["messages"]
    assert sent["author_kind"] == "operator" and sent["direction"] == "out"
    on_avito = [m for m in stack.sandbox.state.chat_history(chat["avito_chat_id"]) if "Анна" in str(m["content"])]
    assert len(on_avito) == 1
    await eventually(lambda: [e for e in listener.named("message.new") if e["message"]["id"] == sent["id"]], 5, "ev")
    await listener.close()
    # Over Avito's 1000 characters: several messages, none cut inside a word.
    long_text = " ".join(["Доставка по Казани занимает один день."] * 40)
    parts = boss.post(f"/api/v1/chats/{chat['id']}/messages", json={"text": long_text, "request_id": "long-1"})
    assert parts.status_code == 201 and len(parts.json()["messages"]) == 2
    assert all(len(m["text"]) <= 1000 for m in parts.json()["messages"])
    empty = boss.post(f"/api/v1/chats/{chat['id']}/messages", json={"text": "  ", "request_id": "e"})
    assert empty.status_code == 400 and "напишите" in empty.json()["error"]


async def test_an_image_is_uploaded_to_avito_and_sent_and_other_files_are_refused(stack: Stack, boss: Browser) -> None:
    chat = await answered_chat(stack)
    files = {"file": ("photo.png", png(), "image/png")}
    sent = boss.post(f"/api/v1/chats/{chat['id']}/images", files=files, data={"request_id": "img-1"})
    assert sent.status_code == 201, sent.text
    [message] = sent.json()["messages"]
    assert message["type"] == "image" and message["content"]["image"]["sizes"]
    images = [m for m in stack.sandbox.state.chat_history(chat["avito_chat_id"]) if m["type"] == "image"]
    assert len(images) == 1
    not_image = boss.post(f"/api/v1/chats/{chat['id']}/images", files={"file": ("a.png", b"<svg/>", "image/png")})
    assert not_image.status_code == 415 and "JPEG" in not_image.json()["error"]


async def test_taking_a_chat_silences_the_bot_until_it_is_handed_back(stack: Stack, boss: Browser) -> None:
    await stack.pool.execute(
        'UPDATE accounts SET settings = settings || \'{"handoff_notice": "Вам ответит менеджер"}\''
    )
    chat = await answered_chat(stack)
    avito_chat = chat["avito_chat_id"]
    taken = boss.post(f"/api/v1/chats/{chat['id']}/mode", json={"mode": "operator"})
    assert taken.status_code == 200, taken.text
    assert taken.json()["mode"] == "operator" and taken.json()["operator_name"] == "Начальник"
    history = stack.sandbox.state.chat_history(avito_chat)
    assert history[-1]["content"] == {"text": "Вам ответит менеджер"}
    assert all(m["read"] for m in history if m["author_id"] != stack.user_id)  # read on Avito too
    ours = len([m for m in history if m["author_id"] == stack.user_id])
    stack.sandbox.state.inject(stack.user_id, text="Доставка в Казань есть?", chat_id=avito_chat)
    await stored(stack, chat, "Доставка в Казань есть?")
    assert len([m for m in stack.sandbox.state.chat_history(avito_chat) if m["author_id"] == stack.user_id]) == ours
    assert boss.get("/api/v1/chats", params={"tab": "mine"}).json()["items"][0]["id"] == chat["id"]
    back = boss.post(f"/api/v1/chats/{chat['id']}/mode", json={"mode": "bot"})
    assert back.json()["mode"] == "bot"
    stack.sandbox.state.inject(stack.user_id, text="Можно оплатить картой?", chat_id=avito_chat)
    await stack.replies(avito_chat, count=ours + 1)


async def test_reading_a_chat_clears_its_unread_count_here_and_on_avito(stack: Stack, boss: Browser) -> None:
    chat = await answered_chat(stack)
    assert chat["unread_count"] == 1
    assert boss.post(f"/api/v1/chats/{chat['id']}/read").status_code == 204
    assert (await stack.chat(chat["avito_chat_id"]))["unread_count"] == 0
    buyer = [m for m in stack.sandbox.state.chat_history(chat["avito_chat_id"]) if m["author_id"] != stack.user_id]
    assert all(m["read"] for m in buyer)


async def test_the_accounts_filter_is_remembered_and_narrows_the_list(stack: Stack, boss: Browser) -> None:
    first, second = await answered_chat(stack, account=0), await answered_chat(stack, account=1)
    accounts = boss.get("/api/v1/accounts").json()
    assert len(accounts) == 2 and all(a["selected"] for a in accounts)
    chosen = boss.put("/api/v1/me/selected-accounts", json={"account_ids": [second["account_id"]]})
    assert chosen.json() == {"account_ids": [second["account_id"]]}
    assert [c["id"] for c in boss.get("/api/v1/chats").json()["items"]] == [second["id"]]
    assert [a["selected"] for a in boss.get("/api/v1/accounts").json()] == [False, True]
    both = boss.get("/api/v1/chats", params={"account_id": [first["account_id"], second["account_id"]]}).json()
    assert {c["id"] for c in both["items"]} == {first["id"], second["id"]}
    assert boss.put("/api/v1/me/selected-accounts", json={"account_ids": [999]}).status_code == 400
    boss.put("/api/v1/me/selected-accounts", json={"account_ids": None})
    assert len(boss.get("/api/v1/chats").json()["items"]) == 2
    assert boss.put("/api/v1/me/preferences", json={"sound": False}).json() == {"sound": False, "notifications": True}
    assert boss.get("/api/v1/me/preferences").json()["sound"] is False


async def test_quick_replies_are_shared_or_per_account_and_only_admins_edit_shared_ones(
    stack: Stack, boss: Browser, login: Callable[[str, str], Browser]
) -> None:
    shared = boss.post("/api/v1/quick-replies", json={"title": "Приветствие", "text": "Здравствуйте, {buyer_name}!"})
    assert shared.status_code == 201, shared.text
    account_id = stack.accounts[0].account.id
    own = boss.post(
        "/api/v1/quick-replies", json={"title": "Доставка", "text": "Отправим завтра", "account_id": account_id}
    )
    assert own.status_code == 201
    await create_user(stack.pool, "anna", "anna-password", "operator", "Анна")
    anna = login("anna", "anna-password")
    assert [r["title"] for r in anna.get("/api/v1/quick-replies").json()] == ["Приветствие"]  # no account granted
    await grant_accounts(
        stack.pool, (await stack.pool.fetchval("SELECT id FROM users WHERE login='anna'")), [account_id]
    )
    assert [r["title"] for r in anna.get("/api/v1/quick-replies").json()] == ["Приветствие", "Доставка"]
    assert anna.patch(f"/api/v1/quick-replies/{shared.json()['id']}", json={"text": "Привет"}).status_code == 400
    edited = anna.patch(f"/api/v1/quick-replies/{own.json()['id']}", json={"text": "Отправим сегодня"})
    assert edited.json()["text"] == "Отправим сегодня"
    assert boss.post("/api/v1/quick-replies", json={"title": "", "text": "x"}).status_code == 400
    assert anna.delete(f"/api/v1/quick-replies/{own.json()['id']}").status_code == 204
    assert [r["title"] for r in anna.get("/api/v1/quick-replies").json()] == ["Приветствие"]


async def test_an_operator_cannot_cross_into_an_account_not_granted_to_them(
    stack: Stack, boss: Browser, login: Callable[[str, str], Browser]
) -> None:
    mine, theirs = await answered_chat(stack, account=0), await answered_chat(stack, account=1)
    operator = await create_user(stack.pool, "anna", "anna-password", "operator", "Анна")
    await grant_accounts(stack.pool, operator.id, [mine["account_id"]])
    anna = login("anna", "anna-password")
    assert [a["id"] for a in anna.get("/api/v1/accounts").json()] == [mine["account_id"]]
    assert [c["id"] for c in anna.get("/api/v1/chats").json()["items"]] == [mine["id"]]
    asked = anna.get("/api/v1/chats", params={"account_id": theirs["account_id"]}).json()
    assert asked["items"] == [] and asked["counts"]["bot"]["chats"] == 0
    base = f"/api/v1/chats/{theirs['id']}"
    refused = [
        anna.get(base),
        anna.get(f"{base}/messages"),
        anna.post(f"{base}/messages", json={"text": "Привет", "request_id": "x1"}),
        anna.post(f"{base}/mode", json={"mode": "operator"}),
        anna.post(f"{base}/read"),
        anna.post(f"{base}/images", files={"file": ("p.png", png(), "image/png")}),
        anna.get(f"{base}/voice/abc"),
    ]
    assert [r.status_code for r in refused] == [404] * len(refused)
    assert anna.put("/api/v1/me/selected-accounts", json={"account_ids": [theirs["account_id"]]}).status_code == 400
    # Events: Anna's socket hears her account, never the other one.
    listener = Listener()
    await listener.connect(stack.server.url, "anna", "anna-password")
    stack.sandbox.state.inject(stack.accounts[1].account.avito_user_id, text="Есть доставка?",
                               chat_id=theirs["avito_chat_id"])  # fmt: skip
    stack.sandbox.state.inject(stack.user_id, text="Есть доставка?", chat_id=mine["avito_chat_id"])
    for chat in (mine, theirs):
        await stored(stack, chat, "Есть доставка?")
    await eventually(lambda: listener.named("message.new"), 5, "Anna's own account's events")
    assert {e["account_id"] for _, e in listener.events if "account_id" in e} == {mine["account_id"]}
    await listener.close()


def test_every_messenger_route_refuses_anonymous_callers_and_changes_need_the_csrf_token(
    stack: Stack, login: Callable[[str, str], Browser]
) -> None:
    with httpx.Client(base_url=stack.server.url) as anonymous:
        schema = anonymous.get("/schema/openapi.json").json()
        checked = 0
        for path, operations in schema["paths"].items():
            if not path.startswith("/api/v1/") or path == "/api/v1/auth/login":
                continue
            concrete = re.sub(r"\{[^}]+\}", "1", path)  # every path parameter (ids, versions) as 1
            for method in operations:
                answer = anonymous.request(method.upper(), concrete)
                assert answer.status_code == 401, (method, path, answer.status_code)
                checked += 1
        assert checked >= 20
    browser = login("boss", "boss-password")
    del browser.http.headers["x-csrf-token"]
    answer = browser.post("/api/v1/quick-replies", json={"title": "t", "text": "x"})
    assert answer.status_code == 403 and "обновите страницу" in answer.json()["error"]


def test_the_browser_app_is_served_for_page_paths_but_not_for_api_ones(stack: Stack) -> None:
    with httpx.Client(base_url=stack.server.url) as anonymous:
        page = anonymous.get("/chats/42")
        assert page.status_code in (200, 503) and "text/html" in page.headers["content-type"]
        missing = anonymous.get("/api/v1/nothing-here")
        assert missing.status_code in (401, 404)
        assert anonymous.get("/assets/nothing.js").status_code == 404


@pytest.mark.parametrize("cookie", [None, "avibot_session=forged-session-id"])
async def test_the_socket_refuses_a_connection_without_a_valid_session(stack: Stack, cookie: str | None) -> None:
    client = socketio.AsyncClient(reconnection=False)
    headers = {"Cookie": cookie} if cookie else {}
    with pytest.raises(socketio.exceptions.ConnectionError):  # the namespace refuses it
        await client.connect(stack.server.url, headers=headers, transports=["websocket"], wait_timeout=10)
    await client.disconnect()
