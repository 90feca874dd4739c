"""`POST /webhooks/avito/{secret}` on the real app and database: what is stored, what is refused, and how our own
sends are told apart from a person answering in Avito's app — including an echo that beats the send's answer."""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg
import pytest

from core.security import SecretBox
from core.settings import Settings
from core.store.accounts import Credentials, upsert_account
from core.store.chats import store_sent_view
from tests.conftest import AppServer

ACCOUNT_USER = 301000001
_ids = itertools.count(1)


@pytest.fixture
async def secret(pool: asyncpg.Pool, settings: Settings) -> str:
    _, secret, _ = await upsert_account(
        pool,
        SecretBox(settings.secret()),
        avito_user_id=ACCOUNT_USER,
        name="Велосипеды Казань",
        credentials=Credentials(client_id="id", client_secret="secret"),
        api_url="http://127.0.0.1:9",
    )
    return secret


def delivery(text: str = "Актуально?", *, author: int = 777, chat: str = "u2i-abc", **value: Any) -> dict[str, Any]:
    n = next(_ids)
    return {
        "id": f"delivery-{n}", "version": "v3.0.0", "timestamp": 1764000000,
        "payload": {"type": "message", "value": {
            "id": f"msg-{n}", "chat_id": chat, "user_id": ACCOUNT_USER, "author_id": author, "created": 1764000000 + n,
            "type": "text", "chat_type": "u2i", "content": {"text": text}, "item_id": 4100000001,
            "published_at": None, "read": None, **value,
        }},
    }  # fmt: skip


async def test_a_buyer_message_is_stored_once_with_its_inbox_row(app_server: AppServer, secret: str, pool) -> None:
    body = delivery("Здравствуйте, велосипед ещё продаётся?")
    with app_server.client() as http:
        first = http.post(f"/webhooks/avito/{secret}", json=body)
        again = http.post(f"/webhooks/avito/{secret}", json=body)  # Avito delivers at least once
    assert first.status_code == 200 and first.json()["stored"] == "message"
    assert again.status_code == 200 and again.json()["stored"] == "duplicate"
    message = await pool.fetchrow("SELECT * FROM messages")
    assert message["author_kind"] == "client" and message["text"] == "Здравствуйте, велосипед ещё продаётся?"
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1
    inbox = await pool.fetchrow("SELECT * FROM inbox")
    assert inbox["processed_at"] is None and inbox["message_id"] == message["id"]
    assert inbox["payload"] == body  # kept exactly as received
    chat = await pool.fetchrow("SELECT * FROM chats")
    assert chat["unread_count"] == 1 and chat["last_message_author"] == "client" and chat["mode"] == "bot"


async def test_bad_requests_get_clear_answers_and_nothing_valid_is_lost(
    app_server: AppServer, secret: str, pool
) -> None:
    with app_server.client() as http:
        assert http.post("/webhooks/avito/not-our-secret", json=delivery()).status_code == 404
        assert http.post(f"/webhooks/avito/{secret}", content=b"{not json").status_code == 400
        assert http.post(f"/webhooks/avito/{secret}", content=b"[1, 2]").status_code == 400
        oversize = http.post(f"/webhooks/avito/{secret}", content=b'{"x": "' + b"a" * 300_000 + b'"}')
        assert oversize.status_code == 413
        # Without a declared length (chunked), the body is refused once what arrived passes the limit.
        chunked = http.post(f"/webhooks/avito/{secret}", content=(b"a" * 65536 for _ in range(5)))
        assert chunked.status_code == 413
        assert http.get(f"/webhooks/avito/{secret}").status_code == 405
        assert http.post(f"/webhooks/avito/{secret}/more", json=delivery()).status_code == 404
        broken = delivery()
        del broken["payload"]["value"]["chat_id"]
        answer = http.post(f"/webhooks/avito/{secret}", json=broken)
        assert answer.status_code == 400 and "chat_id" in answer.json()["error"]
        future = {"id": "d-x", "payload": {"type": "chat_archived", "value": {"chat_id": "u2i-abc"}}}
        assert http.post(f"/webhooks/avito/{secret}", json=future).json()["stored"] == "ignored"
        good = http.post(f"/webhooks/avito/{secret}", json=delivery("А доставка есть?"))
        assert good.status_code == 200
    kinds = [r["kind"] for r in await pool.fetch("SELECT kind FROM inbox ORDER BY id")]
    assert kinds == ["invalid:message", "chat_archived", "message"]  # kept for audit, only the valid one processed
    assert await pool.fetchval("SELECT count(*) FROM inbox WHERE processed_at IS NULL") == 1


async def test_other_message_types_are_history_not_work(app_server: AppServer, secret: str, pool) -> None:
    with app_server.client() as http:
        for value in (
            {"type": "image", "content": {"image": {"sizes": {"140x105": "http://x/1.png"}}}},
            {"type": "system", "author_id": 0, "content": {"text": "Покупатель оформил доставку"}},
            {"type": "location", "content": {"lat": 55.7, "lon": 49.1, "text": "Казань, Баумана 1"}},
            {"type": "something_new", "content": {"whatever": True}},
        ):
            assert http.post(f"/webhooks/avito/{secret}", json=delivery(**value)).status_code == 200
    rows = await pool.fetch("SELECT type, author_kind, text FROM messages ORDER BY id")
    assert [(r["type"], r["author_kind"]) for r in rows] == [
        ("image", "client"), ("system", "system"), ("location", "client"), ("something_new", "client"),
    ]  # fmt: skip
    assert rows[2]["text"] == "Казань, Баумана 1"
    # Buyers' messages wait for their session (it decides what a photo means); system messages do not.
    pending = await pool.fetchval("SELECT count(*) FROM inbox WHERE processed_at IS NULL")
    assert pending == 3


async def test_an_echo_of_our_send_is_ours_even_before_the_send_answered(
    app_server: AppServer, secret: str, pool
) -> None:
    with app_server.client() as http:
        http.post(f"/webhooks/avito/{secret}", json=delivery("Доставка есть?"))
    chat = await pool.fetchrow("SELECT id, account_id FROM chats")
    # The bot's reply is queued (pending) and its echo arrives before Avito answered the send call.
    await pool.execute(
        "INSERT INTO outbound (account_id, chat_id, kind, text, author_kind) VALUES ($1, $2, 'text', $3, 'bot')",
        chat["account_id"], chat["id"], "Да, доставляем по всей России.",
    )  # fmt: skip
    echoed = delivery("Да, доставляем по всей России.", author=ACCOUNT_USER)
    with app_server.client() as http:
        echo = http.post(f"/webhooks/avito/{secret}", json=echoed)
    outbound = await pool.fetchrow("SELECT id, message_id FROM outbound")
    assert outbound["message_id"] is not None  # the echo told the outbox which message it became

    # Then Avito's answer to the send: the outbound row is marked sent with the message the echo stored.
    chat_before = await pool.fetchrow("SELECT last_message_id, last_message_at, updated_at FROM chats")
    avito_id = echoed["payload"]["value"]["id"]
    view = await store_sent_view(pool, outbound["id"], avito_id, ACCOUNT_USER, echoed["payload"]["value"]["created"])
    assert view.id == outbound["message_id"] and view.author_kind == "bot" and view.avito_message_id == avito_id
    sent = await pool.fetchrow("SELECT status, avito_message_id, message_id FROM outbound")
    assert dict(sent) == {"status": "sent", "avito_message_id": avito_id, "message_id": view.id}
    assert await pool.fetchrow("SELECT last_message_id, last_message_at, updated_at FROM chats") == chat_before

    with app_server.client() as http:
        person = http.post(f"/webhooks/avito/{secret}", json=delivery("Это Анна, отвечу сама.", author=ACCOUNT_USER))
    assert echo.status_code == person.status_code == 200
    rows = await pool.fetch("SELECT author_kind, direction, text FROM messages ORDER BY id")
    assert [(r["author_kind"], r["direction"]) for r in rows] == [("client", "in"), ("bot", "out"), ("operator", "out")]
    chat = await pool.fetchrow("SELECT mode, unread_count FROM chats")
    assert chat["mode"] == "operator" and chat["unread_count"] == 0  # Anna took it, and has read it
    change = await pool.fetchrow("SELECT from_mode, to_mode, reason FROM chat_mode_changes")
    assert dict(change) == {"from_mode": "bot", "to_mode": "operator", "reason": "avito_app"}
    # Every message of the chat now carries its mode (search's «Оператор» tab reads it), Anna's own included.
    assert {r["chat_mode"] for r in await pool.fetch("SELECT chat_mode FROM messages")} == {"operator"}


async def test_the_echo_of_a_send_already_stored_writes_nothing(app_server: AppServer, secret: str, pool) -> None:
    from core.store.chats import store_sent

    with app_server.client() as http:
        http.post(f"/webhooks/avito/{secret}", json=delivery("Доставка есть?"))
    chat = await pool.fetchrow("SELECT id, account_id FROM chats")
    outbound_id = await pool.fetchval(
        "INSERT INTO outbound (account_id, chat_id, kind, text, author_kind) VALUES ($1, $2, 'text', $3, 'bot') "
        "RETURNING id",
        chat["account_id"], chat["id"], "Да, доставляем.",
    )  # fmt: skip
    # Avito answered the send first; its echo comes after.
    message_id = await store_sent(pool, outbound_id, "sent-1", ACCOUNT_USER, 1764000100)
    before = await pool.fetchrow("SELECT last_message_id, unread_count FROM chats")
    inbox_rows = await pool.fetchval("SELECT count(*) FROM inbox")
    with app_server.client() as http:
        echo = http.post(
            f"/webhooks/avito/{secret}", json=delivery("Да, доставляем.", author=ACCOUNT_USER, id="sent-1")
        )
    assert echo.status_code == 200
    assert [r["id"] for r in await pool.fetch("SELECT id FROM messages WHERE direction = 'out'")] == [message_id]
    assert await pool.fetchval("SELECT count(*) FROM inbox") == inbox_rows  # a duplicate delivery: nothing kept
    assert await pool.fetchrow("SELECT last_message_id, unread_count FROM chats") == before
    assert await pool.fetchval("SELECT mode FROM chats") == "bot"  # ours, not a person in Avito's app
