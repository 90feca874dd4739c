"""Search over messages through `GET /api/v1/search` on the live path and the Avito sandbox: chats grouped by
their newest match with match counts and highlight offsets, stems, prefixes, ё/е and AND of words, the «Бот» /
«Оператор» filter, paging — and the line between accounts: an operator never finds a message of an account not
granted to them, whatever they ask for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.store.users import create_user, grant_accounts
from tests.integration.live import Browser, Stack, eventually, replies_in

pytestmark = pytest.mark.integration


async def write(stack: Stack, text: str, account: int = 0, chat: dict[str, Any] | None = None) -> dict[str, Any]:
    """A buyer writes (in a new chat, which the bot answers, or in ``chat``) and every turn has run; the chat's row."""
    user_id = stack.accounts[account].account.avito_user_id
    avito_chat_id, _ = stack.sandbox.state.inject(user_id, text=text, chat_id=chat and chat["avito_chat_id"])
    if chat is None:
        await eventually(lambda: replies_in(stack.sandbox, avito_chat_id, user_id), 10, "the bot's reply")
    await eventually(
        lambda: stack.pool.fetchval("SELECT count(*) > 0 FROM messages WHERE text = $1", text), 10, f"«{text}»"
    )
    await stack.settled(avito_chat_id)
    return dict(await stack.chat(avito_chat_id))


def found(browser: Browser, q: str, **params: Any) -> dict[str, Any]:
    answer = browser.get("/api/v1/search", params={"q": q, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def chat_ids(page: dict[str, Any]) -> list[int]:
    return [hit["chat"]["id"] for hit in page["items"]]


def marked_words(match: dict[str, Any]) -> list[str]:
    return [match["text"][offset : offset + length] for offset, length in match["highlights"]]


async def test_chats_come_grouped_by_newest_match_with_counts_highlights_stems_and_prefixes(
    stack: Stack, login: Callable[[str, str], Browser]
) -> None:
    first = await write(stack, "Есть гироскутеры в наличии?")
    second = await write(stack, "Гироскутер сломался, верните деньги")
    third = await write(stack, "Ищу гироскутер для Ёлкина", account=1)
    boss = login("boss", "boss-password")

    page = found(boss, "гироскутер")
    assert chat_ids(page) == [third["id"], second["id"], first["id"]] and page["total_chats"] == 3
    await asyncio.sleep(1.1)  # Avito's times are whole seconds: the next message must be the newest, not a tie
    await write(stack, "А ёлкинский синий гироскутер остался?", chat=first)
    page = found(boss, "гироскутер")
    assert chat_ids(page) == [first["id"], third["id"], second["id"]]
    top = page["items"][0]
    assert top["match_count"] == 2 and top["chat"]["buyer"]["name"] and top["chat"]["account_name"]
    assert [m["text"] for m in top["matches"]] == [
        "А ёлкинский синий гироскутер остался?",
        "Есть гироскутеры в наличии?",
    ]
    assert top["matches"][0]["created_at"] >= top["matches"][1]["created_at"]
    assert {m["author_kind"] for m in top["matches"]} == {"client"}
    assert [marked_words(m) for m in top["matches"]] == [["гироскутер"], ["гироскутеры"]]

    # A stem in another form, the start of a word, ё written as е, any case: the same chats.
    for q in ("ГИРОСКУТЕРАМИ", "гироск", "Гироскутеры?!"):
        assert chat_ids(found(boss, q)) == [first["id"], third["id"], second["id"]], q
    yolkin = found(boss, "елкин")
    assert set(chat_ids(yolkin)) == {first["id"], third["id"]}
    assert [marked_words(m) for hit in yolkin["items"] for m in hit["matches"]] == [["ёлкинский"], ["Ёлкина"]]
    # Every word must be in the same message; both are marked.
    both = found(boss, "гироскутер деньги")
    assert chat_ids(both) == [second["id"]]
    assert marked_words(both["items"][0]["matches"][0]) == ["Гироскутер", "деньги"]
    assert found(boss, "гироскутер экскаватор") == {
        "total_chats": 0,
        "total_is_exact": True,
        "items": [],
        "next_cursor": None,
    }
    # Only stop words or punctuation: nothing, not an error. Too short: a Russian message saying what to do.
    assert found(boss, "и в на")["items"] == [] and found(boss, "?!…")["items"] == []
    for q in ("", "г", " "):
        refused = boss.get("/api/v1/search", params={"q": q})
        assert refused.status_code == 400 and "два символа" in refused.json()["error"], q
    assert boss.get("/api/v1/search").status_code == 400

    # Pages of one chat each, then the end; nothing twice.
    seen, cursor = [], None
    while True:
        page = found(boss, "гироскутер", limit=1, **({"cursor": cursor} if cursor else {}))
        seen += chat_ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [first["id"], third["id"], second["id"]]
    bad = boss.get("/api/v1/search", params={"q": "гироскутер", "cursor": "junk"})
    assert bad.status_code == 400 and "повторите поиск" in bad.json()["error"]


async def test_the_bot_and_operator_filter_follows_who_leads_the_chat(
    stack: Stack, login: Callable[[str, str], Browser]
) -> None:
    led_by_bot = await write(stack, "Почём гироскутер?")
    taken = await write(stack, "Гироскутер приехал без зарядки")
    boss = login("boss", "boss-password")
    # Set both ways explicitly: the bot may hand over a question it cannot answer on its own.
    assert boss.post(f"/api/v1/chats/{led_by_bot['id']}/mode", json={"mode": "bot"}).status_code == 200
    assert boss.post(f"/api/v1/chats/{taken['id']}/mode", json={"mode": "operator"}).status_code == 200
    assert chat_ids(found(boss, "гироскутер", mode="operator")) == [taken["id"]]
    assert chat_ids(found(boss, "гироскутер", mode="bot")) == [led_by_bot["id"]]
    assert chat_ids(found(boss, "гироскутер")) == [taken["id"], led_by_bot["id"]]
    assert boss.get("/api/v1/search", params={"q": "гироскутер", "mode": "mine"}).status_code == 400
    # A message written after the switch is in the operator's tab too; handed back, the chat leaves it whole.
    await write(stack, "Самокат тоже без зарядки", chat=taken)
    assert chat_ids(found(boss, "самокат", mode="operator")) == [taken["id"]]
    assert boss.post(f"/api/v1/chats/{taken['id']}/mode", json={"mode": "bot"}).status_code == 200
    assert found(boss, "самокат", mode="operator")["items"] == found(boss, "гироскутер", mode="operator")["items"] == []
    assert chat_ids(found(boss, "самокат", mode="bot")) == [taken["id"]]


async def test_an_operator_never_finds_messages_of_an_account_not_granted_to_them(
    stack: Stack, login: Callable[[str, str], Browser]
) -> None:
    mine = await write(stack, "Гироскутер на складе?", account=0)
    theirs = await write(stack, "Гироскутер на складе?", account=1)
    operator = await create_user(stack.pool, "anna", "anna-password", "operator", "Анна")
    await grant_accounts(stack.pool, operator.id, [mine["account_id"]])
    anna, boss = login("anna", "anna-password"), login("boss", "boss-password")
    assert set(chat_ids(found(boss, "гироскутер"))) == {mine["id"], theirs["id"]}
    assert chat_ids(found(boss, "гироскутер", account_id=theirs["account_id"])) == [theirs["id"]]

    assert chat_ids(found(anna, "гироскутер")) == [mine["id"]]
    for asked in ([theirs["account_id"]], [mine["account_id"], theirs["account_id"]]):
        page = found(anna, "гироскутер", account_id=asked)
        assert theirs["id"] not in chat_ids(page) and page["total_chats"] == len(page["items"])
    assert found(anna, "гироскутер", account_id=theirs["account_id"])["total_chats"] == 0
    # Her own selection of accounts narrows too, and cannot widen.
    assert anna.put("/api/v1/me/selected-accounts", json={"account_ids": [theirs["account_id"]]}).status_code == 400
    async with httpx.AsyncClient(base_url=stack.server.url) as anonymous:
        refused = await anonymous.get("/api/v1/search", params={"q": "гироскутер"})
        assert refused.status_code == 401 and refused.json()["error"]
