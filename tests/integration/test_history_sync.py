"""History sync and the polling fallback on the Avito sandbox and a real database: the seeded history is stored
once (u2u chats too) and never becomes work for the bot; an interrupted sync continues where it stopped; a buyer
message whose webhook was lost is found by polling and stored exactly once, as an unprocessed inbox row; and
`avibot account sync` does the same from the command line, Ctrl-C included."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from actors.account import AccountSession
from actors.poller import Poller, local_poll, ray_poll
from actors.registry import LocalAccounts, account_actor
from core.avito.client import AvitoError
from core.avito.demo import connect_sandbox
from core.avito.sandbox import Fault, Sandbox, SandboxConfig
from core.events import Publisher
from core.settings import Settings
from tests.conftest import AppServer
from tests.integration.live import eventually
from tests.integration.test_cli import AVIBOT, ROOT, env_for, run


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(seed=11, history_chats=4, webhook_retry_backoff=0.05, webhook_timeout=1.0)
    with Sandbox(config) as server:
        yield server


async def _connect(pool: asyncpg.Pool, settings: Settings, sandbox: Sandbox, *, subscribe: bool = False) -> int:
    [connected] = await connect_sandbox(pool, settings, sandbox, subscribe=subscribe, count=1)
    return connected.account.id


@pytest.fixture
async def session(pool: asyncpg.Pool, settings: Settings, database_url: str, sandbox: Sandbox) -> AsyncIterator[Any]:
    account_id = await _connect(pool, settings, sandbox)
    session = AccountSession(settings, database_url, account_id)
    yield session
    await session.aclose()


def _sandbox_messages(sandbox: Sandbox, user_id: int) -> dict[str, list[dict[str, Any]]]:
    return {chat.id: sandbox.state.chat_history(chat.id) for chat in sandbox.state.chats_of(user_id)}


def _message_calls(sandbox: Sandbox) -> int:
    return sum(1 for c in sandbox.state.calls_to("/messages", "GET") if c.status == 200)


async def test_the_history_is_stored_once_and_is_never_work_for_the_bot(
    session: AccountSession, pool: asyncpg.Pool, sandbox: Sandbox
) -> None:
    user_id = sandbox.accounts[0].user_id
    # A long chat (two pages of messages) and one where our reply is still on its way when the sync reads it.
    long_chat, _ = sandbox.state.inject(user_id, text="вопрос 0")
    for n in range(1, 130):
        sandbox.state.inject(user_id, text=f"вопрос {n}", chat_id=long_chat)
    busy_chat, _ = sandbox.state.inject(user_id, text="Доставка есть?")
    sandbox.state.send_text(user_id, busy_chat, "Да, доставляем по всей России.")
    account_id = session.account_id
    chat_row = await pool.fetchval(
        "INSERT INTO chats (account_id, avito_chat_id) VALUES ($1, $2) RETURNING id", account_id, busy_chat
    )
    await pool.execute(
        "INSERT INTO outbound (account_id, chat_id, kind, text, author_kind) VALUES ($1, $2, 'text', $3, 'bot')",
        account_id, chat_row, "Да, доставляем по всей России.",
    )  # fmt: skip
    expected = _sandbox_messages(sandbox, user_id)
    total = sum(len(messages) for messages in expected.values())
    seen: list[tuple[int, int | None]] = []

    result = await session.sync_history(lambda done, of: seen.append((done, of)))

    assert (result.chats, result.messages, result.resumed, result.truncated) == (len(expected), total, False, False)
    assert seen[-1] == (len(expected), len(expected))
    for avito_chat_id, messages in expected.items():
        chat = await pool.fetchrow("SELECT * FROM chats WHERE avito_chat_id = $1", avito_chat_id)
        stored = await pool.fetch("SELECT * FROM messages WHERE chat_id = $1 ORDER BY created_at, id", chat["id"])
        assert {m["avito_message_id"] for m in stored} == {m["id"] for m in messages}
        assert chat["buyer_id"] is not None
        assert chat["chat_type"] == avito_chat_id[:3]
        assert (chat["item_id"] is not None) == (chat["chat_type"] == "u2i")
        assert chat["last_message_at"] == stored[-1]["created_at"] and chat["last_message_id"] is not None
        for message in stored:
            if message["avito_author_id"] == user_id:
                assert message["direction"] == "out" and message["author_kind"] in ("operator", "bot")
            elif message["type"] == "system":
                assert message["direction"] == "in" and message["author_kind"] == "system"
            else:
                assert message["direction"] == "in" and message["author_kind"] == "client"
    u2u = await pool.fetchval(
        "SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.chat_type = 'u2u'"
    )
    assert u2u >= 2  # the seeded u2u chat: asked for with chat_types, not Avito's u2i-only default
    kinds = dict(await pool.fetch("SELECT text, author_kind FROM messages WHERE chat_id = $1", chat_row))
    assert kinds == {"Доставка есть?": "client", "Да, доставляем по всей России.": "bot"}  # ours, not a person's
    seller = await pool.fetchval("SELECT count(*) FROM messages WHERE author_kind = 'operator'")
    assert seller == 4  # the seeded seller replies, typed in Avito's app
    item = await pool.fetchrow("SELECT * FROM items WHERE id = (SELECT item_id FROM chats WHERE avito_chat_id = $1)",
                               long_chat)  # fmt: skip
    assert item["title"] and item["price"] > 0 and item["price_text"]
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 0  # history is not work
    assert await pool.fetchval("SELECT count(*) FROM chats WHERE mode <> 'bot'") == 0
    state = await pool.fetchval("SELECT sync_state FROM accounts WHERE id = $1", account_id)
    assert state["done"] is True and state["chats"] == len(expected) and state["messages"] == total
    assert state["finished_at"]

    again = await session.sync_history()
    assert (again.chats, again.messages) == (len(expected), 0)
    assert await pool.fetchval("SELECT count(*) FROM messages") == total
    state = await pool.fetchval("SELECT sync_state FROM accounts WHERE id = $1", account_id)
    assert state["done"] is True and state["messages"] == 0


async def test_an_interrupted_sync_continues_where_it_stopped(
    session: AccountSession, pool: asyncpg.Pool, sandbox: Sandbox
) -> None:
    chats = len(sandbox.state.chats_of(sandbox.accounts[0].user_id))

    def stop_after_two(done: int, total: int | None) -> None:
        if done == 2:
            raise RuntimeError("Ctrl-C")

    with pytest.raises(RuntimeError):
        await session.sync_history(stop_after_two)
    state = await pool.fetchval("SELECT sync_state FROM accounts WHERE id = $1", session.account_id)
    assert state["done"] is False and state["chats"] == 2 and len(state["page_done"]) == 2
    calls = _message_calls(sandbox)
    result = await session.sync_history()
    assert result.resumed and result.chats == chats
    assert _message_calls(sandbox) - calls == chats - 2  # the two done chats are not read again
    stored = await pool.fetchval("SELECT count(*) FROM messages")
    assert stored == sum(len(m) for m in _sandbox_messages(sandbox, sandbox.accounts[0].user_id).values())

    # Avito failing mid-sync: the error is recorded, and the next run finishes the pass.
    sandbox.state.inject(sandbox.accounts[0].user_id, text="Ещё актуально?", new_chat=True)
    sandbox.state.add_fault(Fault(status=400, count=1, path_contains="/messages"))
    with pytest.raises(AvitoError):
        await session.sync_history()
    state = await pool.fetchval("SELECT sync_state FROM accounts WHERE id = $1", session.account_id)
    assert state["done"] is False and "400" in state["error"]
    result = await session.sync_history()
    assert result.resumed and (result.chats, result.messages) == (chats + 1, 1)


async def test_a_sync_past_the_first_page_of_chats_resumes_on_its_page(
    pool: asyncpg.Pool, settings: Settings, database_url: str
) -> None:
    with Sandbox(SandboxConfig(seed=2, history_chats=0)) as sandbox:
        user_id = sandbox.accounts[0].user_id
        for n in range(103):
            sandbox.state.inject(user_id, text=f"Здравствуйте, №{n}", chat_type="u2u" if n % 10 == 0 else "u2i")
        session = AccountSession(settings, database_url, await _connect(pool, settings, sandbox))
        try:

            def stop(done: int, total: int | None) -> None:
                if done == 101:
                    raise asyncio.CancelledError  # what Ctrl-C does to `asyncio.run`'s task

            with pytest.raises(asyncio.CancelledError):
                await session.sync_history(stop)
            state = await pool.fetchval("SELECT sync_state FROM accounts WHERE id = $1", session.account_id)
            assert (state["offset"], len(state["page_done"]), state["chats"]) == (100, 1, 101)
            calls = _message_calls(sandbox)
            result = await session.sync_history()
        finally:
            await session.aclose()
    assert result.resumed and (result.chats, result.messages) == (103, 103)
    assert _message_calls(sandbox) - calls == 2
    assert await pool.fetchval("SELECT count(DISTINCT chat_id) FROM messages") == 103


async def test_after_a_sync_polling_finds_only_the_new_message_in_either_order(
    pool: asyncpg.Pool, settings: Settings, database_url: str
) -> None:
    # Oldest first (one of Avito's unconfirmed orders): the latest messages of a long chat are on its last page.
    with Sandbox(SandboxConfig(seed=6, history_chats=2, messages_order="oldest_first")) as sandbox:
        user_id = sandbox.accounts[0].user_id
        [long_chat, *_] = [c.id for c in sandbox.state.chats_of(user_id)]
        for n in range(70):
            sandbox.state.inject(user_id, text=f"Ответьте, пожалуйста ({n})", chat_id=long_chat)
        session = AccountSession(settings, database_url, await _connect(pool, settings, sandbox))
        try:
            synced = await session.sync_history()
            _, message_id = sandbox.state.inject(user_id, text="Так что с доставкой?", chat_id=long_chat)
            polled = await session.poll_unread()
        finally:
            await session.aclose()
    assert synced.messages == 70 + 3 + 2
    assert (polled.new, polled.history) == (1, 0)
    [row] = await pool.fetch(
        "SELECT i.processed_at, m.avito_message_id FROM inbox i JOIN messages m ON m.id = i.message_id"
    )  # the only inbox row: the history the sync stored is not answered
    assert row["processed_at"] is None and row["avito_message_id"] == message_id


async def test_a_message_whose_webhook_was_lost_is_found_by_polling_exactly_once(
    app_server: AppServer,
    pool: asyncpg.Pool,
    settings: Settings,
    database_url: str,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = SandboxConfig(seed=4, history_chats=2, webhook_retry_backoff=0.05, webhook_timeout=1.0)
    with Sandbox(config) as sandbox:
        user_id = sandbox.accounts[0].user_id
        account_id = await _connect(pool, settings, sandbox, subscribe=True)
        sandbox.state.configure(webhook_drop_probability=1.0)
        lost_chat, lost_id = sandbox.state.inject(user_id, text="Есть доставка в Казань?")
        await eventually(lambda: sandbox.state.deliveries_of(lost_id), 5, "the dropped delivery")
        sandbox.state.configure(webhook_drop_probability=0.0)
        _, delivered_id = sandbox.state.inject(user_id, text="Можно забрать сегодня?")
        await eventually(
            lambda: pool.fetchval("SELECT 1 FROM messages WHERE avito_message_id = $1", delivered_id), 5, "webhook"
        )
        await asyncio.sleep(0.2)
        [dropped] = sandbox.state.deliveries_of(lost_id)
        assert dropped.dropped and dropped.status == 0  # lost for good: not sent, not retried
        assert await pool.fetchval("SELECT count(*) FROM messages WHERE avito_message_id = $1", lost_id) == 0

        accounts = LocalAccounts(settings, database_url)
        try:
            session = accounts.session(account_id)
            polled = await session.poll_unread()
            # The seeded chat with an unread system message is older than the account's connection: history.
            assert (polled.new, polled.history) == (1, 3)
            [found] = polled.messages
            lost = await pool.fetchrow("SELECT * FROM messages WHERE avito_message_id = $1", lost_id)
            assert found.message_id == lost["id"] and found.dispatch and found.chat_created
            assert polled.dispatch_chat_ids == [lost["chat_id"]]
            assert lost["author_kind"] == "client" and lost["text"] == "Есть доставка в Казань?"
            [row] = await pool.fetch("SELECT * FROM inbox WHERE message_id = $1", lost["id"])
            assert row["processed_at"] is None and row["payload"]["version"] == "poll"
            assert row["payload"]["payload"]["value"]["chat_id"] == lost_chat  # shaped like Avito's delivery
            chat = await pool.fetchrow("SELECT * FROM chats WHERE id = $1", lost["chat_id"])
            assert chat["item_id"] is not None and chat["buyer_id"] is not None and chat["unread_count"] == 1
            # Work for the bot: the lost message and the delivered one, one row each; the history is not.
            pending = await pool.fetch(
                "SELECT m.avito_message_id FROM inbox i JOIN messages m ON m.id = i.message_id "
                "WHERE i.processed_at IS NULL"
            )
            assert sorted(r["avito_message_id"] for r in pending) == sorted([lost_id, delivered_id])
            assert await pool.fetchval("SELECT count(*) FROM inbox") == 2

            again = await session.poll_unread()
            assert (again.new, again.history) == (0, 0) and again.chats == polled.chats

            # The Poller: a round at start, then every `every` seconds; new chats go to `on_new`.
            sandbox.state.configure(webhook_drop_probability=1.0)
            other_chat, other_id = sandbox.state.inject(user_id, text="А скидка будет?", chat_type="u2u")
            woken: list[list[int]] = []
            publisher = Publisher(redis_url)
            poller = Poller(pool, local_poll(accounts), on_new=woken.append, publisher=publisher, every=0.1)
            with caplog.at_level(logging.WARNING):
                poller.start()
                try:
                    await eventually(lambda: woken, 10, "the poller finding the lost message")
                    await eventually(lambda: poller.polls >= 2, 5, "another round")
                finally:
                    await poller.stop()
                    await publisher.aclose()
            other = await pool.fetchrow("SELECT * FROM messages WHERE avito_message_id = $1", other_id)
            assert woken == [[other["chat_id"]]] and poller.found == 1
            assert await pool.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1", other["id"]) == 1
            assert await pool.fetchval("SELECT chat_type FROM chats WHERE avito_chat_id = $1", other_chat) == "u2u"
            assert not [r for r in caplog.records if r.name.startswith("actors.")]
        finally:
            await accounts.aclose()


async def test_on_ray_the_account_actor_polls(
    pool: asyncpg.Pool, settings: Settings, database_url: str, sandbox: Sandbox, ray_cluster: str
) -> None:
    import ray

    account_id = await _connect(pool, settings, sandbox)
    _, message_id = sandbox.state.inject(sandbox.accounts[0].user_id, text="Здравствуйте, ещё продаёте?")
    poll = ray_poll(settings, database_url)
    try:
        polled = await poll(account_id)
        assert polled.new == 1 and len(polled.dispatch_chat_ids) == 1
        assert (await poll(account_id)).new == 0
    finally:
        ray.kill(account_actor(settings, database_url, account_id))
    row = await pool.fetchrow(
        "SELECT i.processed_at FROM inbox i JOIN messages m ON m.id = i.message_id WHERE m.avito_message_id = $1",
        message_id,
    )
    assert row is not None and row["processed_at"] is None


def test_account_sync_from_the_command_line_continues_after_ctrl_c(tmp_path: Path) -> None:
    with Sandbox(SandboxConfig(seed=3, history_chats=3)) as sandbox:
        env = env_for(tmp_path / "data")
        shop = sandbox.accounts[0]
        seeded = sum(len(m) for m in _sandbox_messages(sandbox, shop.user_id).values())
        add = ["account", "add", "--client-id", shop.client_id, "--client-secret", shop.client_secret]
        added = run([*add, "--api-url", sandbox.url, "--no-subscribe"], env)  # syncs by default
        assert added.returncode == 0, added.stderr
        assert f"Synced: 3 chats, {seeded} new messages stored as history." in added.stdout
        assert "3/3 chats" in added.stderr  # the progress

        for n in range(30):
            sandbox.state.inject(shop.user_id, text=f"Вопрос {n}")
        sandbox.state.configure(rate_limit=3, rate_window=1.0)  # slow enough to be interrupted
        calls = _message_calls(sandbox)
        proc = subprocess.Popen([*AVIBOT, "account", "sync", "1"], env=env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while _message_calls(sandbox) - calls < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert "Syncing the history" in out and "Synced" not in out
        assert "Interrupted" in err and "avibot account sync 1" in err and "Traceback" not in err

        sandbox.state.configure(rate_limit=0)
        calls = _message_calls(sandbox)
        rest = run(["account", "sync", "1"], env)
        assert rest.returncode == 0, rest.stderr
        done = int(re.search(r"Continuing the interrupted sync of «.+» \((\d+) chats were done\)", rest.stdout)[1])
        assert done >= 3
        assert "Continued and finished: 33 chats, 30 new messages stored as history." in rest.stdout
        assert _message_calls(sandbox) - calls == 33 - done  # the chats done before Ctrl-C were not read again
