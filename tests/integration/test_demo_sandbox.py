"""The demo's Avito keeps its world across restarts (DATA_DIR/demo-sandbox.json), and the demo shops' history is
in the inbox from the first start: the sandbox on real loopback HTTP, `avibot up` as a real process."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import signal
import stat
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from core.avito.client import AvitoClient, OAuthTokenSource, http_session
from core.avito.payloads import BlacklistEntry
from core.avito.sandbox import Sandbox, SandboxAccount, SandboxConfig, SandboxState, item_image
from core.embedded import free_port
from tests.integration.test_cli import Up

pytestmark = pytest.mark.integration

T = TypeVar("T")


def world_of(sandbox: Sandbox) -> dict[str, Any]:
    """What a restart must not change: every chat's history as the account sees it, the control API's accounts
    (credentials, items, chats), buyers, blacklists, uploads and voice ids."""
    state = sandbox.state
    return {
        "histories": {chat_id: state.chat_history(chat_id) for chat_id in state.chats},
        "accounts": httpx.get(f"{sandbox.url}/sandbox/accounts").json(),
        "buyers": {chat.id: (chat.buyer.id, chat.buyer.name, chat.item_id) for chat in state.chats.values()},
        "blacklisted": {account: sorted(users) for account, users in state.blacklisted.items()},
        "uploads": {
            image_id: [account, kind, hashlib.sha256(data).hexdigest()]
            for image_id, (account, kind, data) in state.uploads.items()
        },
        "voices": sorted(state.voices),
    }


def moved(world: dict[str, Any], old_url: str, new_url: str) -> Any:
    """The world as a sandbox at ``new_url`` shows it (its uploads' URLs name it), in JSON's types."""
    return json.loads(json.dumps(world).replace(old_url, new_url))


async def operator_side(sandbox: Sandbox, shop: SandboxAccount, chat_id: str, photo: bytes) -> None:
    """What the app does in a chat, through the Avito client: replies, an image, a deletion, read, a blacklist."""
    async with http_session(timeout=10) as http:
        tokens = OAuthTokenSource(http, shop.client_id, shop.client_secret, base_url=sandbox.url)
        client = AvitoClient(tokens, shop.user_id, base_url=sandbox.url, http=http)
        await client.send_text(chat_id, "Да, продаётся.")
        uploaded = await client.upload_image(photo, filename="bike.png", content_type="image/png")
        await client.send_image(chat_id, uploaded.image_id)
        oops = await client.send_text(chat_id, "Не тот чат")
        await client.delete_message(chat_id, oops.id)
        await client.mark_read(chat_id)
        spammer = next(c for c in sandbox.state.chats_of(shop.user_id) if c.id != chat_id)
        await client.blacklist([BlacklistEntry(user_id=spammer.buyer.id)])


def test_the_world_is_the_same_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "demo-sandbox.json"
    photo = item_image(1, 140)
    with Sandbox(SandboxConfig(seed=11), state_file=path) as first:
        state = first.state
        shop, other = first.accounts
        chat_id, _ = state.inject(shop.user_id, text="Здравствуйте! Велосипед ещё продаётся?")
        state.inject(shop.user_id, chat_id=chat_id, type="voice")
        state.inject(shop.user_id, chat_id=chat_id, author="system", type="system", text="Покупатель оформил заказ")
        u2u_id, _ = state.inject(other.user_id, chat_type="u2u", text="Можно вопрос по доставке?")
        asyncio.run(operator_side(first, shop, chat_id, photo))
        before = world_of(first)
        old_url = first.url
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the shops' client secrets
    assert not path.with_name(f"{path.name}.tmp").exists()

    # Another seed and no history chats: the world comes from the file, not from the config.
    with Sandbox(SandboxConfig(seed=99, history_chats=0), state_file=path) as second:
        assert second.state.restored and second.url != old_url
        # Uploaded images' URLs follow the sandbox to its new port.
        assert moved(world_of(second), second.url, second.url) == moved(before, old_url, second.url)
        history = second.state.chat_history(chat_id)
        assert [m["type"] for m in history] == ["text", "voice", "system", "text", "image", "deleted"]
        assert all(m["is_read"] for m in history if m["direction"] == "in")
        assert httpx.get(history[4]["content"]["image"]["sizes"]["140x105"]).content == photo
        assert second.state.chat_history(u2u_id)[0]["content"]["text"] == "Можно вопрос по доставке?"

        # New ids never collide with old ones, and the old chats take new messages.
        old_buyers = {buyer_id for buyer_id, _, _ in before["buyers"].values()}
        old_messages = {m["id"] for messages in before["histories"].values() for m in messages}
        new_chat, new_message = second.state.inject(shop.user_id, text="А скидка будет?")
        assert new_chat not in before["histories"] and second.state.chats[new_chat].buyer.id not in old_buyers
        _, reply = second.state.inject(shop.user_id, chat_id=chat_id, text="Спасибо!")
        assert {new_message, reply}.isdisjoint(old_messages)
        assert not set(second.state.upload_image(shop.user_id, item_image(2, 140))) & set(before["uploads"])
        second.state.send_text(other.user_id, u2u_id, "Доставка по Казани 400 ₽.")
        after = world_of(second)

    with Sandbox(SandboxConfig(), state_file=path) as third:  # and again, with what the second run added
        assert moved(world_of(third), third.url, third.url) == moved(after, second.url, third.url)


def test_only_a_changed_world_is_written(tmp_path: Path) -> None:
    path = tmp_path / "demo-sandbox.json"
    with Sandbox(SandboxConfig(seed=3), state_file=path) as sandbox:
        assert path.exists() and not sandbox.state.restored  # a fresh world is on disk as soon as it serves
        assert not sandbox.state.save()
        shop = sandbox.accounts[0].user_id
        chat_id, _ = sandbox.state.inject(shop, text="Есть размер M?")
        assert sandbox.state.save() and not sandbox.state.save()
        sandbox.state.mark_read(shop, chat_id)
        assert sandbox.state.save()
        sandbox.state.mark_read(shop, chat_id)  # nothing left unread: nothing changed
        assert not sandbox.state.save()
    path.chmod(0o644)
    with Sandbox(SandboxConfig(), state_file=path) as sandbox:
        sandbox.state.inject(shop, chat_id=chat_id, text="Жду ответа")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a new file replaces the old one, never rewritten in place


def test_without_a_state_file_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with Sandbox(SandboxConfig(seed=3)) as sandbox:
        sandbox.state.inject(sandbox.accounts[0].user_id, text="Добрый день")
        assert not sandbox.state.save()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    [
        b'{"format": 1, "accounts": [',  # cut short by a full disk
        b"\x00\x00\x00",
        json.dumps({"format": 999, "accounts": []}).encode(),  # a future version's file
    ],
    ids=["truncated", "garbage", "another-format"],
)
def test_an_unusable_file_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes) -> None:
    path = tmp_path / "demo-sandbox.json"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING), Sandbox(SandboxConfig(seed=4), state_file=path) as sandbox:
        assert not sandbox.state.restored
        assert len(sandbox.state.chats) == 2 * SandboxConfig().history_chats  # a fresh world
    assert path.with_name("demo-sandbox.json.bad").read_bytes() == content
    assert json.loads(path.read_bytes())["format"] == 1  # the fresh world replaced it
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "demo-sandbox.json" in warning.getMessage() and "starting afresh" in warning.getMessage()


def test_a_world_that_does_not_hang_together_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "demo-sandbox.json"
    # A state without its server: a Litestar app would configure logging away from caplog.
    assert SandboxState(SandboxConfig(seed=5), state_file=path).save()
    world = json.loads(path.read_bytes())
    world["chats"][0]["account_id"] = 1  # no such account
    path.write_text(json.dumps(world))
    with caplog.at_level(logging.WARNING), Sandbox(SandboxConfig(seed=5), state_file=path) as sandbox:
        assert not sandbox.state.restored
    assert path.with_name("demo-sandbox.json.bad").exists()
    assert "unknown account" in caplog.text


# ---- `avibot up` ----------------------------------------------------------------------------------------


async def eventually(check: Callable[[], Awaitable[T]], within: float, log: Callable[[], str]) -> T:
    deadline = time.monotonic() + within
    while not (result := await check()):
        assert time.monotonic() < deadline, f"not within {within} s; avibot up said:\n{log()}"
        await asyncio.sleep(0.2)
    return result


def sandbox_url(up: Up) -> str:
    match = re.search(r"the Avito sandbox runs at (\S+) ", up.wait_output("the Avito sandbox runs at"))
    assert match, up.output()
    return match.group(1)


async def inject(http: httpx.AsyncClient, sandbox: str, **fields: Any) -> str:
    response = await http.post(f"{sandbox}/sandbox/inject", json=fields)
    assert response.status_code == 200, response.text
    return str(response.json()["chat_id"])


async def replies(http: httpx.AsyncClient, sandbox: str, chat_id: str) -> list[dict[str, Any]]:
    response = await http.get(f"{sandbox}/sandbox/chats/{chat_id}/messages")
    assert response.status_code == 200, response.text  # «Chat not found» when the sandbox forgot it
    return [m for m in response.json() if m["direction"] == "out"]


async def history_in_database(data_dir: Path) -> list[asyncpg.Record]:
    """The demo shops' chats that have messages and no inbox row (history), with their message counts."""
    database_url = json.loads((data_dir / "run.json").read_text())["database_url"]
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT c.avito_chat_id, count(m.id) AS messages FROM chats c"
            " JOIN accounts a ON a.id = c.account_id JOIN messages m ON m.chat_id = c.id"
            " WHERE (a.settings ->> 'builtin_sandbox')::boolean"
            " AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.chat_id = c.id) GROUP BY c.avito_chat_id"
        )
    finally:
        await conn.close()


@pytest.mark.slow
async def test_up_restarts_with_the_same_avito_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_BUYERS_PER_MINUTE", "0")  # only this test's buyer writes
    data_dir = tmp_path / "data"
    history_chats = 2 * SandboxConfig().history_chats
    question = "Здравствуйте! Сколько стоит доставка по Казани?"
    async with httpx.AsyncClient(timeout=10) as http:
        first = Up(data_dir, free_port())
        try:
            first.wait_healthy()
            sandbox = sandbox_url(first)

            # The shops' pre-generated chats reach the inbox with nobody writing (as history: no bot answers).
            async def synced() -> list[asyncpg.Record] | None:
                rows = await history_in_database(data_dir)
                return rows if len(rows) == history_chats else None

            rows = await eventually(synced, 30, first.output)
            assert all(row["messages"] >= 2 for row in rows)

            shop = (await http.get(f"{sandbox}/sandbox/accounts")).json()[0]["user_id"]
            chat_id = await inject(http, sandbox, user_id=shop, text=question)
            await eventually(lambda: replies(http, sandbox, chat_id), 60, first.output)
        finally:
            first.proc.send_signal(signal.SIGINT)
            assert first.proc.wait(60) == 0, first.output()
        assert stat.S_IMODE((data_dir / "demo-sandbox.json").stat().st_mode) == 0o600

        second = Up(data_dir, free_port())
        try:
            second.wait_healthy()
            sandbox = sandbox_url(second)
            answered = len(await replies(http, sandbox, chat_id))  # the first run's chat, with the bot's answer
            assert answered >= 1
            await inject(http, sandbox, user_id=shop, chat_id=chat_id, text="А самовывоз где?")

            async def answered_again() -> bool:
                return len(await replies(http, sandbox, chat_id)) > answered

            await eventually(answered_again, 60, second.output)
            assert len(await history_in_database(data_dir)) == history_chats  # the same world: nothing new
        finally:
            second.proc.send_signal(signal.SIGINT)
            assert second.proc.wait(60) == 0, second.output()
    assert not (data_dir / "demo-sandbox.json.bad").exists()
