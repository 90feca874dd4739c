"""Webhook deliveries from the sandbox to a real receiver (a Litestar app on a loopback port): the documented
envelope, echoes of the account's own sends, every message type, duplicates, retries, delays; and the simulator."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, Request, Response, post

from core.avito.client import AvitoClient, OAuthTokenSource, RetryPolicy, http_session
from core.avito.payloads import WebhookEvent
from core.avito.sandbox import Sandbox, SandboxAccount, SandboxConfig, buyer_texts
from core.embedded import free_port
from tests.conftest import AppServer

VALUE_KEYS = {
    "id", "chat_id", "user_id", "author_id", "created", "type", "chat_type", "content", "item_id", "published_at",
    "read",
}  # fmt: skip


class Receiver:
    """Our side of the webhook: records every delivery; answers scripted statuses (or delays) first, 200 after."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.script: deque[int | float] = deque()  # an int: answer that status; a float: sleep that long first
        self._lock = threading.Lock()

        @post("/hook/{secret:str}", status_code=200)
        async def hook(request: Request[Any, Any, Any]) -> Response[dict[str, bool]]:
            body = await request.json()
            with self._lock:
                self.bodies.append(body)
                self.headers.append(dict(request.headers))
                step = self.script.popleft() if self.script else 200
            if isinstance(step, float):
                await asyncio.sleep(step)
                step = 200
            return Response({"ok": step == 200}, status_code=step)

        self.app = Litestar(route_handlers=[hook], openapi_config=None)

    def values(self) -> list[dict[str, Any]]:
        with self._lock:
            return [body["payload"]["value"] for body in self.bodies]

    def of(self, message_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for body in self.bodies if body["payload"]["value"]["id"] == message_id]


async def eventually(check: Callable[[], Any], within: float = 5.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.02)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(seed=11, webhook_retry_backoff=0.05, webhook_timeout=0.5)
    with Sandbox(config) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    with AppServer(receiver.app, free_port()) as server:
        yield receiver, f"{server.url}/hook/long-random-secret"


@pytest.fixture
def account(sandbox: Sandbox) -> SandboxAccount:
    return sandbox.accounts[0]


@pytest.fixture
async def client(sandbox: Sandbox, account: SandboxAccount) -> AsyncIterator[AvitoClient]:
    async with http_session(timeout=10) as http:
        tokens = OAuthTokenSource(http, account.client_id, account.client_secret, base_url=sandbox.url)
        yield AvitoClient(
            tokens, account.user_id, base_url=sandbox.url, http=http, retry=RetryPolicy(backoff_base=0.02)
        )


@pytest.fixture
async def subscribed(client: AvitoClient, receiver: tuple[Receiver, str]) -> Receiver:
    hook, url = receiver
    await client.subscribe_webhook(url)
    return hook


async def test_an_injected_message_arrives_in_the_documented_envelope(
    sandbox: Sandbox, subscribed: Receiver, account: SandboxAccount
):
    async with httpx.AsyncClient(base_url=sandbox.url) as control:
        answer = await control.post("/sandbox/inject", json={"user_id": account.user_id, "text": "Актуально?"})
    assert answer.status_code == 200, answer.text
    chat_id, message_id = answer.json()["chat_id"], answer.json()["message_id"]

    [body] = await eventually(lambda: subscribed.of(message_id))
    assert set(body) == {"id", "version", "timestamp", "payload"}
    assert body["version"] == "v3.0.0" and isinstance(body["timestamp"], int) and body["id"]
    assert body["payload"]["type"] == "message"
    value = body["payload"]["value"]
    assert set(value) == VALUE_KEYS
    chat = sandbox.state.chats[chat_id]
    assert value["chat_id"] == chat_id and chat_id.startswith("u2i-")
    assert value["user_id"] == account.user_id
    assert value["author_id"] == chat.buyer.id != account.user_id
    assert value["type"] == "text" and value["content"] == {"text": "Актуально?"}
    assert value["chat_type"] == "u2i" and value["item_id"] == chat.item_id and value["item_id"] > 2**31
    assert value["read"] is None
    assert datetime.fromisoformat(value["published_at"]).timestamp() == value["created"]
    assert len(subscribed.headers[0]["x-avito-messenger-signature"]) == 64

    event = msgspec.json.decode(json.dumps(body), type=WebhookEvent)  # our own decoder takes it
    assert event.payload.value is not None and not event.payload.value.is_echo


async def test_the_accounts_own_send_comes_back_as_an_echo(
    sandbox: Sandbox, subscribed: Receiver, client: AvitoClient, account: SandboxAccount
):
    chat_id, question_id = sandbox.state.inject(account.user_id, text="Сколько стоит?")
    await eventually(lambda: subscribed.of(question_id))
    sent = await client.send_text(chat_id, "28 500 ₽")
    [echo] = await eventually(lambda: subscribed.of(sent.id))
    value = echo["payload"]["value"]
    assert value["author_id"] == value["user_id"] == account.user_id
    assert value["content"] == {"text": "28 500 ₽"}


async def test_every_message_type_is_delivered(sandbox: Sandbox, subscribed: Receiver, account: SandboxAccount):
    chat_id, _ = sandbox.state.inject(account.user_id, text="Добрый день")
    kinds = {
        "image": {"image": {"sizes": {"140x105": f"{sandbox.url}/sandbox/images/items/1/140.png"}}},
        "voice": {"voice_id": "voice-1"},
        "location": {"lat": 55.79, "lon": 49.12, "kind": "house", "text": "Казань", "title": "Дом"},
        "item": {"title": "Велосипед", "price_string": "9 900 ₽", "item_url": "https://avito.ru/1", "image_url": ""},
    }
    ids = {
        kind: sandbox.state.inject(account.user_id, chat_id=chat_id, type=kind, content=c)[1]
        for kind, c in kinds.items()
    }
    _, system_id = sandbox.state.inject(account.user_id, chat_id=chat_id, author="system", type="system", text="Заказ")
    _, u2u_id = sandbox.state.inject(account.user_id, chat_type="u2u", text="Без объявления")

    for kind, message_id in ids.items():
        [body] = await eventually(lambda message_id=message_id: subscribed.of(message_id))
        assert body["payload"]["value"]["type"] == kind
        assert body["payload"]["value"]["content"] == kinds[kind]
    [system] = await eventually(lambda: subscribed.of(system_id))
    assert system["payload"]["value"]["type"] == "system" and system["payload"]["value"]["author_id"] == 0
    [u2u] = await eventually(lambda: subscribed.of(u2u_id))
    assert u2u["payload"]["value"]["chat_type"] == "u2u" and u2u["payload"]["value"]["item_id"] is None


async def test_duplicates_when_configured(sandbox: Sandbox, subscribed: Receiver, account: SandboxAccount):
    sandbox.state.configure(webhook_duplicate_probability=1.0)
    _, message_id = sandbox.state.inject(account.user_id, text="Дубль?")
    first, second = await eventually(lambda: len(subscribed.of(message_id)) == 2 and subscribed.of(message_id))
    assert first == second  # the same delivery again: de-duplicate by payload.value.id
    await asyncio.sleep(0.3)
    assert len(subscribed.of(message_id)) == 2


async def test_a_failed_delivery_is_retried(sandbox: Sandbox, subscribed: Receiver, account: SandboxAccount):
    subscribed.script.append(500)
    _, message_id = sandbox.state.inject(account.user_id, text="Ответьте")
    bodies = await eventually(lambda: len(subscribed.of(message_id)) == 2 and subscribed.of(message_id))
    assert bodies[0] == bodies[1]
    await eventually(lambda: [d.status for d in sandbox.state.deliveries_of(message_id)] == [500, 200])


async def test_a_slow_receiver_is_retried(sandbox: Sandbox, subscribed: Receiver, account: SandboxAccount):
    subscribed.script.append(1.0)  # longer than the sandbox waits (webhook_timeout 0.5 s)
    _, message_id = sandbox.state.inject(account.user_id, text="Алло")
    await eventually(lambda: [d.status for d in sandbox.state.deliveries_of(message_id)] == [0, 200])


async def test_retries_end(sandbox: Sandbox, subscribed: Receiver, account: SandboxAccount):
    sandbox.state.configure(webhook_retries=2)
    subscribed.script.extend([503, 503, 503, 503])
    _, message_id = sandbox.state.inject(account.user_id, text="Есть кто?")
    await eventually(lambda: len(sandbox.state.deliveries_of(message_id)) == 3)
    await asyncio.sleep(0.5)
    assert [d.status for d in sandbox.state.deliveries_of(message_id)] == [503, 503, 503]


async def test_delivery_delay_does_not_block_the_api(
    sandbox: Sandbox, subscribed: Receiver, client: AvitoClient, account: SandboxAccount
):
    sandbox.state.configure(webhook_delay=1.0)
    chat_id, _ = sandbox.state.inject(account.user_id, text="Жду")
    started = time.monotonic()
    sent = await client.send_text(chat_id, "Отвечаю")
    assert time.monotonic() - started < 0.5
    await eventually(lambda: subscribed.of(sent.id), within=5)
    assert time.monotonic() - started >= 0.95


async def test_unsubscribed_urls_get_nothing(
    sandbox: Sandbox, subscribed: Receiver, client: AvitoClient, receiver: tuple[Receiver, str]
):
    await client.unsubscribe_webhook(receiver[1])
    _, message_id = sandbox.state.inject(client.user_id, text="Тишина")
    await asyncio.sleep(0.3)
    assert subscribed.of(message_id) == []
    # Another account's messages never go to this account's hook either.
    await client.subscribe_webhook(receiver[1])
    _, other_id = sandbox.state.inject(sandbox.accounts[1].user_id, text="Чужой")
    await asyncio.sleep(0.3)
    assert subscribed.of(other_id) == []


async def test_the_simulator_writes_buyer_questions(sandbox: Sandbox, subscribed: Receiver, account: SandboxAccount):
    known = {text for texts in buyer_texts().values() for text in texts}
    async with httpx.AsyncClient(base_url=sandbox.url) as control:
        assert (await control.post("/sandbox/simulator", json={"rate": 1200})).status_code == 200
        await eventually(lambda: len(subscribed.values()) >= 3)
        assert (await control.post("/sandbox/simulator", json={"rate": 0})).status_code == 200
    values = subscribed.values()
    assert all(v["user_id"] == account.user_id and v["author_id"] != account.user_id for v in values)
    for value in values:
        text = value["content"]["text"]
        # A new chat may open with a greeting before the question.
        assert text in known or any(text.endswith(" " + k) for k in known), text
    await asyncio.sleep(0.2)
    settled = len(sandbox.state.deliveries)
    await asyncio.sleep(0.3)
    assert len(sandbox.state.deliveries) == settled  # stopped
