"""The live path end to end on the Avito sandbox: a buyer writes → webhook → stored → dispatched → the chat's
session runs the scenario → the reply is delivered to the sandbox chat, with events seen by a Socket.io client.
The same under a duplicate delivery, our own echo, an expired token and a 429; operator mode keeps the bot
silent; a message typed in Avito's own app hands the chat to a person.

The session hosts run as Ray actors in `test_on_ray_*`, and in the test process elsewhere (same code, no hop).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from api.app import LiveOptions
from core.avito.sandbox import Fault, Sandbox, SandboxConfig
from core.settings import Settings
from tests.integration.live import Listener, Stack, build_stack, eventually, replies_in


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """This file's world (seed 5); `stack` (tests/integration/conftest.py) serves the app on it."""
    config = SandboxConfig(seed=5, history_chats=0, webhook_retry_backoff=0.05, webhook_timeout=1.0)
    with Sandbox(config) as server:
        yield server


@pytest.fixture
async def ray_stack(
    settings: Settings, database_url: str, redis_url: str, pool: asyncpg.Pool, sandbox: Sandbox, ray_cluster: str
) -> AsyncIterator[Stack]:
    async for built in build_stack(settings, database_url, redis_url, pool, sandbox, LiveOptions(hosts=2)):
        yield built


@pytest.fixture
async def listener(stack: Stack) -> AsyncIterator[Listener]:
    listener = Listener()
    await listener.connect(stack.server.url, "boss", "boss-password")
    yield listener
    await listener.close()


async def test_an_answered_chat_is_marked_read_on_avito_once_for_a_run_of_replies(stack: Stack) -> None:
    # Read by each account's session when it starts (its first call: the first reply below).
    await stack.pool.execute("""UPDATE accounts SET settings = settings || '{"read_mark_delay_seconds": 1.0}'""")
    chat_id, _ = stack.inject("Здравствуйте! Сколько стоит доставка по Казани?")
    await stack.replies(chat_id)
    stack.inject("А картой оплатить можно?", chat_id)
    await stack.replies(chat_id, 2)
    read = f"/chats/{chat_id}/read"
    assert not stack.sandbox.state.calls_to(read)  # not at once: a second reply in the delay needs no second mark
    await eventually(lambda: stack.sandbox.state.calls_to(read, "POST"), what="the chat's read mark")
    await asyncio.sleep(1.5)
    assert len(stack.sandbox.state.calls_to(read)) == 1
    buyer = [m for m in stack.sandbox.state.chat_history(chat_id) if m["author_id"] != stack.user_id]
    assert len(buyer) == 2 and all(m.get("read") for m in buyer)


async def test_a_buyer_question_is_answered_from_the_knowledge_base(stack: Stack, listener: Listener) -> None:
    chat_id, message_id = stack.inject("Здравствуйте! Сколько стоит доставка по Казани?")
    [reply] = await stack.replies(chat_id)
    assert "400 ₽" in reply["content"]["text"]  # from the demo knowledge base's delivery article
    await stack.settled(chat_id)

    chat = await stack.chat(chat_id)
    assert chat["mode"] == "bot" and chat["item_id"] is not None and chat["buyer_id"] is not None
    messages = await stack.pool.fetch("SELECT * FROM messages WHERE chat_id = $1 ORDER BY id", chat["id"])
    assert [(m["author_kind"], m["direction"]) for m in messages] == [("client", "in"), ("bot", "out")]
    assert messages[0]["avito_message_id"] == message_id and messages[1]["avito_message_id"] == reply["id"]
    turn = await stack.pool.fetchrow("SELECT * FROM bot_turns WHERE chat_id = $1", chat["id"])
    assert turn["intent"] == "delivery" and turn["route"] == "answer" and turn["engine"] == "offline"
    assert turn["scenario_id"] == "default" and turn["scenario_version"] == 1 and turn["sources"]
    assert turn["trace"][0]["node"] == "start" and turn["latency_ms"] > 0
    item = await stack.pool.fetchrow("SELECT * FROM items WHERE id = $1", chat["item_id"])
    assert item["title"] and item["price"] > 0  # learnt from Avito's chat card: webhooks carry neither
    buyer = await stack.pool.fetchrow("SELECT * FROM buyers WHERE id = $1", chat["buyer_id"])
    assert buyer["name"] and buyer["avatar_url"].startswith("http")  # from the card too
    outbound = await stack.pool.fetch("SELECT status, avito_message_id FROM outbound WHERE chat_id = $1", chat["id"])
    assert [(o["status"], o["avito_message_id"]) for o in outbound] == [("sent", reply["id"])]

    # The socket client saw the chat appear, the buyer's message and the bot's reply, in that order.
    await eventually(lambda: len(listener.named("message.new")) >= 2, 5, "both messages as events")
    news = listener.named("message.new")
    assert [n["message"]["author_kind"] for n in news[:2]] == ["client", "bot"]
    assert news[1]["message"]["text"] == reply["content"]["text"]
    assert listener.named("chat.created")[0]["chat_id"] == chat["id"]
    assert {n["account_id"] for n in news} == {stack.accounts[0].account.id}


async def test_our_own_echo_and_a_duplicate_delivery_are_not_answered_again(stack: Stack) -> None:
    stack.sandbox.state.configure(webhook_duplicate_probability=1.0)  # every delivery arrives twice
    chat_id, question_id = stack.inject("Доставка есть?")
    [reply] = await stack.replies(chat_id)
    # The question delivered twice, the bot's reply echoed back twice.
    for message_id in (question_id, reply["id"]):
        await eventually(lambda m=message_id: len(stack.sandbox.state.deliveries_of(m)) >= 2, 5, "two deliveries")
    await stack.settled(chat_id)
    chat = await stack.chat(chat_id)
    # Still one message each, one turn, one reply. (The echo has an inbox row of its own only when it beat the
    # send's answer and was stored by the webhook; either way it is closed, never work for the bot.)
    assert await stack.pool.fetchval("SELECT count(*) FROM messages WHERE chat_id = $1", chat["id"]) == 2
    assert await stack.pool.fetchval("SELECT count(*) FROM bot_turns WHERE chat_id = $1", chat["id"]) == 1
    buyer_rows = await stack.pool.fetchval(
        "SELECT count(*) FROM inbox i JOIN messages m ON m.id = i.message_id "
        "WHERE i.chat_id = $1 AND m.author_kind = 'client'",
        chat["id"],
    )
    assert buyer_rows == 1
    assert len(replies_in(stack.sandbox, chat_id, stack.user_id)) == 1


async def test_an_expired_token_and_a_429_are_ridden_out(stack: Stack) -> None:
    chat_id, _ = stack.inject("Здравствуйте")
    await stack.replies(chat_id)
    stack.sandbox.state.expire_tokens()  # Avito answers the next call 403
    stack.sandbox.state.add_fault(Fault(status=429, count=1, retry_after=0.2, path_contains="/messages"))
    stack.inject("А доставка в Казань сколько стоит?", chat_id=chat_id)
    replies = await stack.replies(chat_id, 2)
    assert "400 ₽" in replies[1]["content"]["text"]
    tokens = [c for c in stack.sandbox.state.calls if c.path == "/token"]
    assert len(tokens) >= 2  # refreshed once after the 403
    assert any(c.status == 429 for c in stack.sandbox.state.calls)


async def test_operator_mode_keeps_the_bot_silent(stack: Stack) -> None:
    chat_id, _ = stack.inject("Здравствуйте")
    await stack.replies(chat_id)
    chat = await stack.chat(chat_id)
    await stack.pool.execute("UPDATE chats SET mode = 'operator' WHERE id = $1", chat["id"])
    stack.inject("Доставка в Казань есть?", chat_id=chat_id)
    await stack.settled(chat_id)
    assert len(replies_in(stack.sandbox, chat_id, stack.user_id)) == 1
    assert await stack.pool.fetchval("SELECT count(*) FROM bot_turns WHERE chat_id = $1", chat["id"]) == 1


async def test_a_person_answering_in_avitos_app_takes_the_chat_over(stack: Stack, listener: Listener) -> None:
    chat_id, _ = stack.inject("Здравствуйте")
    await stack.replies(chat_id)
    # The seller answers from the Avito app: author_id is the account, but we did not send it.
    stack.sandbox.state.send_text(stack.user_id, chat_id, "Добрый день, это Анна, помогу.")
    chat = await eventually(
        lambda: stack.pool.fetchrow("SELECT * FROM chats WHERE avito_chat_id = $1 AND mode = 'operator'", chat_id),
        5,
        "operator mode",
    )
    anna = await stack.pool.fetchrow("SELECT * FROM messages WHERE chat_id = $1 AND text LIKE '%Анна%'", chat["id"])
    assert anna["author_kind"] == "operator" and anna["direction"] == "out"
    bot = await stack.pool.fetchval(
        "SELECT count(*) FROM messages WHERE chat_id = $1 AND author_kind = 'bot'", chat["id"]
    )
    assert bot == 1  # the bot's own reply, echoed too, is still told apart from Anna's
    change = await stack.pool.fetchrow("SELECT * FROM chat_mode_changes WHERE chat_id = $1", chat["id"])
    assert change["reason"] == "avito_app" and change["to_mode"] == "operator"
    stack.inject("Спасибо, жду", chat_id=chat_id)
    await stack.settled(chat_id)
    assert len(replies_in(stack.sandbox, chat_id, stack.user_id)) == 2  # the bot's first reply and Anna's
    await eventually(lambda: listener.named("chat.mode"), 5, "the mode event")
    assert listener.named("chat.mode")[0] == {
        "account_id": chat["account_id"], "chat_id": chat["id"], "mode": "operator", "reason": "avito_app",
        "operator_id": None,
    }  # fmt: skip


async def test_a_handoff_switches_to_operator_mode_and_sends_the_nodes_message(stack: Stack) -> None:
    chat_id, _ = stack.inject("Позовите, пожалуйста, живого человека")
    [reply] = await stack.replies(chat_id)
    assert "менеджер" in reply["content"]["text"]
    await stack.settled(chat_id)
    chat = await stack.chat(chat_id)
    assert chat["mode"] == "operator"
    change = await stack.pool.fetchrow("SELECT * FROM chat_mode_changes WHERE chat_id = $1", chat["id"])
    assert change["reason"] == "handoff_node"


async def test_on_ray_a_message_is_answered_by_the_session_host_actors(ray_stack: Stack) -> None:
    chats = [ray_stack.inject(text)[0] for text in ("Доставка в Казань есть?", "Здравствуйте", "Можно картой?")]
    for chat_id in chats:
        await ray_stack.replies(chat_id, within=30)
    for chat_id in chats:
        await ray_stack.settled(chat_id)
    turns = await ray_stack.pool.fetchval("SELECT count(*) FROM bot_turns")
    assert turns == 3


async def test_sessions_are_activated_by_messages_and_passivated_when_idle(stack: Stack) -> None:
    chats = [stack.inject(text)[0] for text in ("Здравствуйте", "Доставка есть?", "Можно картой?")]
    for chat_id in chats:
        await stack.replies(chat_id)
    hosts = stack.app.state.session_hosts
    await eventually(lambda: not any(h.stats()["busy"] for h in hosts), 10, "the sessions finished their turns")
    assert sum(h.stats()["active"] for h in hosts) == 3  # one virtual actor per chat, spread over the hosts
    assert sum(h.activations for h in hosts) == 3
    later = time.monotonic() + 3600
    assert sum(h.passivate_idle(later) for h in hosts) == 3
    assert sum(h.stats()["active"] for h in hosts) == 0
    # A passivated chat's next message activates it again, restored from PostgreSQL (mode, saved state).
    stack.inject("А самовывоз есть?", chat_id=chats[1])
    await stack.replies(chats[1], 2)
    assert sum(h.activations for h in hosts) == 4
