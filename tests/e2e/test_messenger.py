"""The operator messenger in a real browser (Debian's chromium) against `avibot up` connected to the Avito sandbox:
what an operator sees and does, checked on the screen and on Avito's side (the sandbox's history).

Screenshots of the main screens land in tests/e2e/screenshots/ (not committed).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from core.avito.sandbox.images import item_image
from tests.e2e.conftest import RECORDER, Avibot, api_session, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
SOUND = "/sounds/message.wav"
# Uncaught errors in each page's scripts: a test fails on any.
ERRORS: dict[Page, list[str]] = {}


@pytest.fixture(scope="module")
def api(avibot: Avibot) -> Iterator[httpx.Client]:
    client = api_session(avibot)
    yield client
    client.close()


def open_page(browser: Browser, avibot: Avibot, **options: object) -> Page:
    context = browser.new_context(
        base_url=avibot.url, locale="ru-RU", timezone_id="Europe/Moscow", permissions=["notifications"], **options
    )
    context.add_init_script(RECORDER)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors = ERRORS[page] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


@pytest.fixture
def page(browser: Browser, avibot: Avibot) -> Iterator[Page]:
    page = open_page(browser, avibot, viewport=DESKTOP)
    yield page
    page.context.close()
    assert not ERRORS.pop(page), "uncaught errors in the page"


def log_in(page: Page, avibot: Avibot) -> None:
    page.goto("/")
    page.get_by_label("Логин").fill("admin")
    page.get_by_label("Пароль").fill(avibot.password)
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("heading", name="Сообщения", exact=True)).to_be_visible()


def unique(word: str) -> str:
    return f"{word} {uuid.uuid4().hex[:6]}"


class Chats:
    """Arranges chats through the sandbox (as buyers) and our API (as an admin would), and reads Avito's side."""

    def __init__(self, avibot: Avibot, api: httpx.Client) -> None:
        self.avibot, self.api = avibot, api

    def find(self, avito_chat_id: str) -> dict | None:
        for tab in ("bot", "mine"):
            for row in self.api.get("/api/v1/chats", params={"tab": tab, "limit": 200}).json()["items"]:
                if row["avito_chat_id"] == avito_chat_id:
                    return row
        return None

    def row(self, chat_id: int) -> dict:
        answer = self.api.get(f"/api/v1/chats/{chat_id}")
        answer.raise_for_status()
        return answer.json()

    def new(self, text: str, shop: int = 0, mode: str | None = None) -> tuple[str, dict]:
        """A buyer writes to shop `shop`: (the sandbox's chat id, our chat row once the chat's first turn is over
        and its buyer and listing are known). With `mode` the chat is then put in that mode."""
        injected = self.avibot.sandbox.inject(self.avibot.shops[shop]["user_id"], text)
        avito_chat = injected["chat_id"]
        row = wait_for(lambda: self.find(avito_chat), timeout=15, what="the chat in avibot")
        # The bot answers (or hands the chat over); the chat's details are read from Avito on that first turn.
        self.wait_bot_reply(avito_chat, after=0, shop=shop)
        row = wait_for(lambda: (r := self.row(row["id"]))["buyer"] and r, timeout=15, what="the buyer's details")
        if mode is not None and row["mode"] != mode:
            self.set_mode(row["id"], mode)
            row = self.row(row["id"])
        return avito_chat, row

    def ours(self, avito_chat_id: str, shop: int = 0) -> list[dict]:
        """What the shop (the bot or an operator) sent in the chat, as Avito has it."""
        user_id = self.avibot.shops[shop]["user_id"]
        return [m for m in self.avibot.sandbox.history(avito_chat_id) if m["author_id"] == user_id]

    def wait_bot_reply(self, avito_chat_id: str, after: int, shop: int = 0) -> float:
        """Seconds until the shop's side has more than `after` messages in the chat."""
        started = time.monotonic()
        wait_for(lambda: len(self.ours(avito_chat_id, shop)) > after, timeout=30, what="the bot's reply")
        return time.monotonic() - started

    def send_as_buyer(self, avito_chat_id: str, kind: str, content: dict, shop: int = 0) -> None:
        """A message of any type (image, voice, location…) from the buyer."""
        user_id = self.avibot.shops[shop]["user_id"]
        body = {"user_id": user_id, "chat_id": avito_chat_id, "type": kind, "content": content}
        httpx.post(f"{self.avibot.sandbox.url}/sandbox/inject", json=body, timeout=10).raise_for_status()

    def set_mode(self, chat_id: int, mode: str) -> None:
        self.api.post(f"/api/v1/chats/{chat_id}/mode", json={"mode": mode}).raise_for_status()


@pytest.fixture(scope="module")
def chats(avibot: Avibot, api: httpx.Client) -> Chats:
    return Chats(avibot, api)


def show_tab_of(page: Page, row: dict) -> None:
    page.get_by_role("tab", name=re.compile("^Бот" if row["mode"] == "bot" else "^Мои")).click()


def sounds(page: Page) -> int:
    return page.evaluate(f"window.__e2e.sounds.filter(s => s.src.endsWith('{SOUND}')).length")


def test_login_shows_russian_errors_and_logout_returns_to_it(page: Page, avibot: Avibot, screenshots: Path) -> None:
    page.goto("/")
    page.get_by_label("Логин").fill("admin")
    page.get_by_label("Пароль").fill("not-the-password")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("alert")).to_have_text("Неверный логин или пароль.")
    page.screenshot(path=screenshots / "desktop-login.png")

    log_in(page, avibot)
    expect(page.get_by_role("tab", name=re.compile("^Бот"))).to_have_attribute("aria-selected", "true")
    page.get_by_role("button", name=re.compile("^Меню")).click()
    page.get_by_role("menuitem", name="Выйти").click()
    expect(page.get_by_role("button", name="Войти")).to_be_visible()
    page.reload()  # the session is gone on the server too
    expect(page.get_by_role("button", name="Войти")).to_be_visible()


def test_buyer_message_arrives_live_with_sound_and_notification(
    page: Page, avibot: Avibot, chats: Chats, screenshots: Path
) -> None:
    # A chat an operator leads (the bot stays quiet, so the list shows exactly what the buyer wrote).
    avito_chat, row = chats.new(unique("Здравствуйте"), mode="operator")

    log_in(page, avibot)
    page.get_by_role("tab", name=re.compile("^Мои")).click()
    expect(page.locator(f'[data-chat-id="{row["id"]}"]')).to_be_visible()

    # The tab is in the background: a new buyer message rings and raises a notification.
    page.evaluate("window.__e2e.hide(true)")
    first = unique("Можно забрать сегодня вечером?")
    started = time.monotonic()
    avibot.sandbox.inject(avibot.shops[0]["user_id"], first, chat_id=avito_chat)
    expect(page.locator(f'[data-chat-id="{row["id"]}"]', has_text=first)).to_be_visible(timeout=5000)
    in_list = time.monotonic() - started
    assert in_list < 1.0, f"the list showed the message after {in_list:.2f} s"
    wait_for(lambda: sounds(page) == 1, timeout=2, what="the message sound")
    notes = wait_for(lambda: page.evaluate("window.__e2e.notifications"), timeout=2, what="a notification")
    assert notes[0]["body"] == first and notes[0]["title"] == row["buyer"]["name"]
    assert page.evaluate("window.__e2e.sounds[0].volume") == pytest.approx(0.7)

    # Clicking the notification opens that chat.
    page.evaluate("window.__e2e.last.onclick()")
    page.evaluate("window.__e2e.hide(false)")
    expect(page).to_have_url(re.compile(f"/chats/{row['id']}$"))
    expect(page.get_by_role("log").get_by_text(first)).to_be_visible()

    # With the dialog open and in view: the message appears in it within a second, with the sound, and no
    # notification. Buyer text is text: markup in it is shown, never run.
    second = unique('<img src=x onerror="window.__xss=1"> а доставка есть?')
    started = time.monotonic()
    avibot.sandbox.inject(avibot.shops[0]["user_id"], second, chat_id=avito_chat)
    expect(page.get_by_role("log").get_by_text(second)).to_be_visible(timeout=5000)
    in_dialog = time.monotonic() - started
    assert in_dialog < 1.0, f"the dialog showed the message after {in_dialog:.2f} s"
    wait_for(lambda: sounds(page) == 2, timeout=2, what="the second sound")
    assert len(page.evaluate("window.__e2e.notifications")) == 1
    assert page.evaluate("window.__xss") is None
    expect(page.locator(f'[data-chat-id="{row["id"]}"] .unread-badge')).to_have_count(0)  # read while watching
    page.screenshot(path=screenshots / "desktop-dialog.png")
    print(f"\nmessage in the list after {in_list:.3f} s, in the open dialog after {in_dialog:.3f} s")


def test_reply_and_image_reach_avito(page: Page, avibot: Avibot, chats: Chats) -> None:
    avito_chat, row = chats.new(unique("Можно оплатить картой?"), mode="operator")
    before = len(chats.ours(avito_chat))

    log_in(page, avibot)
    page.goto(f"/chats/{row['id']}")
    composer = page.get_by_label("Сообщение", exact=True)
    reply = unique("Конечно, сейчас пришлю")
    composer.fill(reply)
    composer.press("Enter")
    expect(composer).to_have_value("")
    expect(page.locator(".message.ours", has_text=reply).locator("time")).to_be_visible()  # sent, not pending
    wait_for(lambda: any(m["content"].get("text") == reply for m in chats.ours(avito_chat)), what="the reply on Avito")

    page.locator('input[type="file"]').set_input_files(
        {"name": "side.png", "mimeType": "image/png", "buffer": item_image(7, 640)}
    )
    expect(page.locator(".message.ours .bubble-image img")).to_have_count(1)
    wait_for(lambda: any(m["type"] == "image" for m in chats.ours(avito_chat)), what="the image on Avito")
    assert len(chats.ours(avito_chat)) == before + 2
    expect(page.locator(".message.ours .bubble.media time")).to_be_visible()
    assert sounds(page) == 0  # our own messages make no sound


def test_operator_takes_the_chat_bot_stays_silent_then_takes_it_back(page: Page, avibot: Avibot, chats: Chats) -> None:
    avito_chat, row = chats.new(unique("Сколько стоит доставка по Казани?"), mode="bot")
    ours = len(chats.ours(avito_chat))
    started = time.monotonic()
    avibot.sandbox.inject(avibot.shops[0]["user_id"], "Есть самовывоз?", chat_id=avito_chat)
    bot_latency = chats.wait_bot_reply(avito_chat, after=ours)
    assert chats.row(row["id"])["mode"] == "bot", "the bot handed over a plain question"
    print(f"\nthe bot answered after {time.monotonic() - started:.2f} s")

    log_in(page, avibot)
    item = page.locator(f'[data-chat-id="{row["id"]}"]')
    item.click()
    header = page.get_by_test_id("leader")
    expect(header).to_have_text("Ведёт диалог: Бот")
    expect(page.locator('.message[data-author="bot"] .bot-mark').first).to_have_text("Бот")

    page.get_by_role("button", name="Передать оператору").click()
    expect(header).to_have_text(re.compile("^Ведёт диалог: Оператор"))
    expect(item).to_have_count(0)  # gone from «Бот»…
    page.get_by_role("tab", name=re.compile("^Мои")).click()
    expect(item).to_be_visible()  # …to «Мои»

    ours = len(chats.ours(avito_chat))
    question = unique("А сколько стоит доставка до Казани?")
    avibot.sandbox.inject(avibot.shops[0]["user_id"], question, chat_id=avito_chat)
    expect(page.get_by_role("log").get_by_text(question)).to_be_visible()
    time.sleep(max(3.0, 3 * bot_latency))  # far longer than the bot needed to answer before
    assert len(chats.ours(avito_chat)) == ours, "the bot answered a chat an operator leads"

    page.get_by_role("button", name="Передать боту").click()
    expect(header).to_have_text("Ведёт диалог: Бот")
    bot_bubbles = page.locator('.message[data-author="bot"]')
    shown = bot_bubbles.count()
    avibot.sandbox.inject(avibot.shops[0]["user_id"], unique("Можно оплатить картой?"), chat_id=avito_chat)
    chats.wait_bot_reply(avito_chat, after=ours)
    expect(bot_bubbles).to_have_count(shown + len(chats.ours(avito_chat)) - ours)  # the reply appears live, marked


def test_every_kind_of_message_is_shown(page: Page, avibot: Avibot, chats: Chats) -> None:
    avito_chat, row = chats.new(unique("Здравствуйте"), mode="operator")
    photo = f"{avibot.sandbox.url}/sandbox/images/items/{row['item']['avito_item_id']}"
    sizes = {"140x105": f"{photo}/140.png", "640x480": f"{photo}/640.png", "1280x960": f"{photo}/1280.png"}
    for kind, content in [
        ("image", {"image": {"sizes": sizes}}),
        ("voice", {}),
        ("location", {"lat": 55.79, "lon": 49.12, "kind": "street", "text": "Казань, ул. Баумана, 1", "title": "Тут"}),
        ("link", {"text": "Смотрите обзор", "url": "https://example.org/review",
                  "preview": {"title": "Обзор велосипеда", "description": "Три минуты"}}),
        ("file", {"name": "договор.pdf"}),
    ]:  # fmt: skip
        chats.send_as_buyer(avito_chat, kind, content)

    log_in(page, avibot)
    page.goto(f"/chats/{row['id']}")
    log = page.get_by_role("log")
    expect(log.get_by_role("button", name="Открыть фото")).to_be_visible()
    expect(log.get_by_role("link", name="Открыть на карте")).to_have_attribute("href", re.compile("55.79"))
    expect(log.get_by_text("Обзор велосипеда")).to_be_visible()
    expect(log.get_by_text("Сообщение этого типа можно посмотреть в приложении Авито")).to_be_visible()

    log.get_by_role("button", name="Открыть фото").click()
    viewer = page.get_by_role("dialog", name="Просмотр фото")
    expect(viewer.get_by_role("img")).to_have_attribute("src", sizes["1280x960"])
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)

    with page.expect_response(re.compile(r"/api/v1/chats/\d+/voice/")) as voice:
        log.get_by_role("button", name="Прослушать голосовое сообщение").click()
    assert voice.value.ok
    wait_for(lambda: page.evaluate("window.__e2e.sounds.some(s => s.src.includes('/voice/'))"), what="the voice played")


def test_accounts_filter_hides_unticked_accounts_and_is_remembered(
    page: Page, avibot: Avibot, chats: Chats, api: httpx.Client, screenshots: Path
) -> None:
    chats.new(unique("Есть самовывоз?"), shop=1)
    accounts = api.get("/api/v1/accounts").json()
    second = next(a for a in accounts if a["avito_user_id"] == avibot.shops[1]["user_id"])

    log_in(page, avibot)
    rows = page.locator(".chat-row")
    expect(rows.filter(has_text=second["name"]).first).to_be_visible()
    page.get_by_role("button", name=f"Аккаунты ({len(accounts)})").click()
    page.get_by_role("group", name="Аккаунты Авито").get_by_label(second["name"]).uncheck()
    expect(rows.filter(has_text=second["name"])).to_have_count(0)
    expect(rows.first).to_be_visible()

    page.reload()  # remembered for this user
    expect(page.get_by_role("button", name=f"Аккаунты ({len(accounts) - 1})")).to_be_visible()
    expect(rows.first).to_be_visible()
    expect(rows.filter(has_text=second["name"])).to_have_count(0)

    page.get_by_role("button", name=f"Аккаунты ({len(accounts) - 1})").click()
    page.get_by_label("Все аккаунты").check()
    expect(rows.filter(has_text=second["name"]).first).to_be_visible()
    page.keyboard.press("Escape")
    page.screenshot(path=screenshots / "desktop-list.png")


def test_search_finds_the_message_and_opens_the_chat_at_it(
    page: Page, avibot: Avibot, chats: Chats, screenshots: Path
) -> None:
    word = f"шифоньер{uuid.uuid4().hex[:4]}"
    avito_chat, row = chats.new(f"Добрый день! А {word} из массива?", mode="bot")
    for n in range(3):  # the hit is not the last message of the chat
        avibot.sandbox.inject(avibot.shops[0]["user_id"], f"Ещё вопрос номер {n + 1}", chat_id=avito_chat)

    log_in(page, avibot)
    page.get_by_label("Поиск или новый чат").fill(word)
    results = page.get_by_role("region", name="Результаты поиска")
    expect(results.get_by_role("status")).to_have_text("Найдено 1 чат")
    expect(results.get_by_text("Совпадение в сообщениях")).to_be_visible()
    expect(results.locator("mark")).to_have_text(word)
    page.screenshot(path=screenshots / "desktop-search.png")

    results.get_by_role("button", name=re.compile("^Открыть сообщение")).first.click()
    expect(page).to_have_url(re.compile(f"/chats/{row['id']}\\?message=\\d+$"))
    expect(page.locator(".message.highlighted")).to_contain_text(word)
    expect(page.get_by_role("log").get_by_text("Ещё вопрос номер 3")).to_be_visible()

    page.get_by_role("radio", name="Оператор").click()  # the chat is the bot's: nothing among the operators'
    expect(results.get_by_role("status")).to_have_text("Найдено 0 чатов")


def test_quick_reply_is_inserted_with_the_buyer_and_listing_filled_in(
    page: Page, avibot: Avibot, chats: Chats, api: httpx.Client, screenshots: Path
) -> None:
    created = api.post(
        "/api/v1/quick-replies",
        json={"title": "Приветствие", "text": "Здравствуйте, {buyer_name}! «{item_title}» в наличии.{unknown}"},
    )
    assert created.status_code == 201, created.text
    _, row = chats.new(unique("Можно оплатить картой?"))
    assert row["item"] is not None and row["buyer"] is not None

    log_in(page, avibot)
    page.goto(f"/chats/{row['id']}")
    page.get_by_role("button", name="Быстрые ответы").click()
    search = page.get_by_label("Поиск по быстрым ответам")
    search.fill("привет")
    expect(page.get_by_role("option", name=re.compile("Приветствие"))).to_be_visible()
    page.screenshot(path=screenshots / "desktop-quick-replies.png")
    search.press("Enter")
    expected = f"Здравствуйте, {row['buyer']['name']}! «{row['item']['title']}» в наличии."
    expect(page.get_by_label("Сообщение", exact=True)).to_have_value(expected)


def test_quick_replies_are_added_edited_and_deleted_in_the_popover(
    browser: Browser, page: Page, avibot: Avibot, chats: Chats, screenshots: Path
) -> None:
    _, row = chats.new(unique("Есть ли доставка?"))
    title = unique("Доставка")
    log_in(page, avibot)
    page.goto(f"/chats/{row['id']}")
    page.get_by_role("button", name="Быстрые ответы").click()
    page.get_by_role("button", name="Добавить").click()
    form = page.get_by_role("form", name="Быстрый ответ")

    form.get_by_role("button", name="Сохранить").click()  # empty: the server's Russian message, inline
    expect(form.get_by_role("alert")).to_contain_text("Название быстрого ответа")
    form.get_by_label("Название").fill(title)
    text = form.get_by_label("Текст")
    text.fill("Здравствуйте, ")
    form.get_by_role("button", name=re.compile(r"Вставить \{buyer_name\}")).click()
    text.press("End")
    text.press_sequentially("! Доставим «{item_title}» завтра.")
    form.get_by_role("radio", name=row["account_name"]).click()  # the admin's choice: this chat's account only
    expect(form.get_by_text(f"{row['buyer']['name']}! Доставим")).to_be_visible()  # the preview, filled in
    page.screenshot(path=screenshots / "desktop-quick-reply-form.png")
    form.get_by_role("button", name="Сохранить").click()

    option = page.get_by_role("option", name=re.compile(re.escape(title)))
    expect(option).to_be_visible()
    search = page.get_by_label("Поиск по быстрым ответам")
    search.fill(title)
    search.press("Enter")  # Enter inserts the first match
    message = page.get_by_label("Сообщение", exact=True)
    expect(message).to_have_value(f"Здравствуйте, {row['buyer']['name']}! Доставим «{row['item']['title']}» завтра.")
    expect(page.get_by_role("dialog", name="Быстрые ответы")).to_be_hidden()

    page.get_by_role("button", name="Быстрые ответы").click()
    page.get_by_role("button", name=f"Изменить «{title}»").click()
    form.get_by_label("Текст").fill("Доставка по городу — 300 ₽.")
    form.get_by_role("button", name="Сохранить").click()
    expect(option).to_contain_text("Доставка по городу — 300 ₽.")

    page.get_by_role("button", name=f"Удалить «{title}»").click()
    expect(page.get_by_text("Удалить быстрый ответ?")).to_be_visible()
    page.get_by_role("button", name="Удалить", exact=True).click()
    expect(option).to_be_hidden()
    page.get_by_label("Поиск по быстрым ответам").press("Escape")  # Esc closes
    expect(page.get_by_role("dialog", name="Быстрые ответы")).to_be_hidden()

    phone = open_page(browser, avibot, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        log_in(phone, avibot)
        phone.goto(f"/chats/{row['id']}")
        phone.get_by_role("button", name="Быстрые ответы").tap()
        sheet = phone.get_by_role("dialog", name="Быстрые ответы")
        expect(sheet).to_be_visible()
        box = sheet.bounding_box()
        assert box is not None and abs(box["width"] - PHONE["width"]) < 1  # a bottom sheet, edge to edge
        assert abs(box["y"] + box["height"] - PHONE["height"]) < 1
        phone.screenshot(path=screenshots / "phone-quick-replies.png")
        phone.get_by_role("button", name="Добавить").tap()
        expect(phone.get_by_label("Название")).to_be_focused()
        phone.screenshot(path=screenshots / "phone-quick-reply-form.png")
        phone.get_by_role("button", name="Назад к быстрым ответам").tap()
        phone.get_by_role("button", name="Закрыть быстрые ответы").tap()
        expect(sheet).to_be_hidden()
    finally:
        phone.context.close()
    assert not ERRORS.pop(phone), "uncaught errors in the page"


def test_connection_indicator_shows_offline_and_recovers(page: Page, avibot: Avibot, chats: Chats) -> None:
    avito_chat, row = chats.new(unique("Здравствуйте"), mode="operator")
    log_in(page, avibot)
    page.goto(f"/chats/{row['id']}")
    status = page.locator(".connection")
    expect(status).to_have_attribute("data-state", "connected")

    page.context.set_offline(True)
    expect(status).to_have_attribute("data-state", "offline")
    expect(status).to_contain_text("Нет подключения к интернету")
    page.context.set_offline(False)
    expect(status).to_have_attribute("data-state", "connected", timeout=15_000)

    after = unique("Связь вернулась?")
    avibot.sandbox.inject(avibot.shops[0]["user_id"], after, chat_id=avito_chat)
    expect(page.get_by_role("log").get_by_text(after)).to_be_visible(timeout=5000)


def test_phone_layout_list_and_dialog_are_separate_screens(
    browser: Browser, avibot: Avibot, chats: Chats, screenshots: Path
) -> None:
    _, row = chats.new(unique("Сколько стоит доставка по Казани?"))
    page = open_page(browser, avibot, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        log_in(page, avibot)
        show_tab_of(page, row)
        item = page.locator(f'[data-chat-id="{row["id"]}"]')
        expect(item).to_be_visible()
        page.screenshot(path=screenshots / "phone-list.png")

        item.tap()
        expect(page.get_by_test_id("leader")).to_be_visible()
        expect(page.get_by_role("complementary", name="Чаты")).to_be_hidden()
        expect(page.get_by_role("button", name="Назад к чатам")).to_be_visible()
        page.screenshot(path=screenshots / "phone-dialog.png")

        page.get_by_role("button", name="Назад к чатам").tap()
        expect(item).to_be_visible()
        expect(page.get_by_test_id("leader")).to_be_hidden()
    finally:
        page.context.close()
    assert not ERRORS.pop(page), "uncaught errors in the page"
