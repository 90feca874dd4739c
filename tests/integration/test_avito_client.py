"""The Avito client against the sandbox: both real HTTP on loopback, nothing mocked."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from core.avito.client import (
    AvitoClient,
    AvitoError,
    MessageTooLong,
    OAuthTokenSource,
    RetryPolicy,
    exchange_code,
    http_session,
    request_token,
)
from core.avito.payloads import BlacklistEntry, ImageContent, TokenResponse, VoiceContent
from core.avito.sandbox import ApiError, Fault, Sandbox, SandboxAccount, SandboxConfig, item_image
from core.errors import InvalidInput

FAST = RetryPolicy(max_attempts=4, backoff_base=0.02, backoff_cap=0.2)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(seed=7)) as server:
        yield server


@pytest.fixture
def account(sandbox: Sandbox) -> SandboxAccount:
    return sandbox.accounts[0]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with http_session(timeout=10) as session:
        yield session


@pytest.fixture
def tokens(sandbox: Sandbox, account: SandboxAccount, http: aiohttp.ClientSession) -> OAuthTokenSource:
    return OAuthTokenSource(http, account.client_id, account.client_secret, base_url=sandbox.url)


@pytest.fixture
def client(
    sandbox: Sandbox, account: SandboxAccount, tokens: OAuthTokenSource, http: aiohttp.ClientSession
) -> AvitoClient:
    return AvitoClient(tokens, account.user_id, base_url=sandbox.url, http=http, retry=FAST)


def statuses(sandbox: Sandbox, path_part: str) -> list[int]:
    return [call.status for call in sandbox.state.calls_to(path_part)]


# ---- tokens ---------------------------------------------------------------------------------------------


async def test_client_credentials_token_and_self(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount):
    me = await client.get_self()
    assert me.id == account.user_id
    assert me.name == account.name
    assert me.phones == [account.phone]
    assert sandbox.state.token_grants == ["client_credentials"]
    # The token is reused, not fetched per call.
    await client.get_self()
    assert sandbox.state.token_grants == ["client_credentials"]


async def test_bad_credentials_fail_loudly(sandbox: Sandbox, http: aiohttp.ClientSession, account: SandboxAccount):
    source = OAuthTokenSource(http, account.client_id, "wrong-secret", base_url=sandbox.url)
    client = AvitoClient(source, account.user_id, base_url=sandbox.url, http=http, retry=FAST)
    with pytest.raises(AvitoError) as caught:
        await client.get_self()
    assert caught.value.status == 400
    assert caught.value.code == "invalid_client"
    assert "wrong-secret" not in str(caught.value)


async def test_authorization_code_then_refresh_rotates_the_refresh_token(
    sandbox: Sandbox, http: aiohttp.ClientSession, account: SandboxAccount
):
    config = sandbox.state.config
    code = sandbox.state.authorization_code(account.user_id)
    first = await exchange_code(http, config.app_client_id, config.app_client_secret, code, base_url=sandbox.url)
    assert first.refresh_token and first.scope and "messenger:write" in first.scope

    stored: list[TokenResponse] = []

    async def store(token: TokenResponse) -> None:
        stored.append(token)

    source = OAuthTokenSource.from_token(
        http, config.app_client_id, config.app_client_secret, first, base_url=sandbox.url, on_refresh=store
    )
    client = AvitoClient(source, account.user_id, base_url=sandbox.url, http=http, retry=FAST)
    assert (await client.get_self()).id == account.user_id
    assert stored == []  # the code's token was still good

    sandbox.state.expire_tokens(account.user_id)
    assert (await client.get_self()).id == account.user_id
    assert len(stored) == 1
    assert stored[0].refresh_token and stored[0].refresh_token != first.refresh_token
    assert sandbox.state.token_grants == ["authorization_code", "refresh_token"]

    # The spent refresh token no longer works: whoever forgets to store the new one finds out here.
    form = {"grant_type": "refresh_token", "refresh_token": first.refresh_token}
    with pytest.raises(AvitoError) as caught:
        await request_token(http, sandbox.url, config.app_client_id, config.app_client_secret, form)
    assert caught.value.code == "invalid_grant"


async def test_expired_token_answers_403_and_one_refresh_fixes_it(client: AvitoClient, sandbox: Sandbox):
    await client.get_self()
    sandbox.state.expire_tokens()
    await client.get_self()
    assert statuses(sandbox, "/accounts/self") == [200, 403, 200]
    assert sandbox.state.token_grants == ["client_credentials", "client_credentials"]


async def test_a_401_storm_fails_after_one_refresh_and_one_retry(client: AvitoClient, sandbox: Sandbox):
    await client.get_self()
    sandbox.state.add_fault(Fault(status=401, count=100))
    with pytest.raises(AvitoError) as caught:
        await client.get_self()
    assert caught.value.status == 401
    assert statuses(sandbox, "/accounts/self") == [200, 401, 401]
    assert len(sandbox.state.token_grants) == 2


async def test_concurrent_callers_share_one_refresh(client: AvitoClient, sandbox: Sandbox, tokens: OAuthTokenSource):
    await client.get_self()
    sandbox.state.expire_tokens()
    results = await asyncio.gather(*(client.get_self() for _ in range(12)))
    assert {me.id for me in results} == {client.user_id}
    assert len(sandbox.state.token_grants) == 2
    assert tokens.refreshes == 2


async def test_token_is_refreshed_before_it_expires(sandbox: Sandbox, client: AvitoClient):
    sandbox.state.configure(token_ttl=1.0)
    await client.get_self()
    await asyncio.sleep(0.85)  # past 80 % of the lifetime, before the end
    await client.get_self()
    assert statuses(sandbox, "/accounts/self") == [200, 200]  # never a 403
    assert len(sandbox.state.token_grants) == 2


# ---- retries --------------------------------------------------------------------------------------------


async def test_429_is_retried_after_retry_after(client: AvitoClient, sandbox: Sandbox):
    await client.get_self()
    sandbox.state.add_fault(Fault(status=429, count=1, retry_after=1))
    started = time.monotonic()
    await client.get_self()
    assert time.monotonic() - started >= 0.95
    assert statuses(sandbox, "/accounts/self") == [200, 429, 200]


async def test_the_rate_limit_answers_429_and_the_client_waits(client: AvitoClient, sandbox: Sandbox):
    sandbox.state.configure(rate_limit=2, rate_window=1.0)
    started = time.monotonic()
    for _ in range(3):
        await client.get_self()
    assert time.monotonic() - started >= 0.95
    assert statuses(sandbox, "/accounts/self") == [200, 200, 429, 200]


async def test_5xx_is_retried_with_backoff_then_gives_up(client: AvitoClient, sandbox: Sandbox):
    sandbox.state.add_fault(Fault(status=503, count=2))
    await client.get_self()
    assert statuses(sandbox, "/accounts/self") == [503, 503, 200]

    sandbox.state.add_fault(Fault(status=500, count=10, message="boom"))
    with pytest.raises(AvitoError) as caught:
        await client.get_self()
    assert (caught.value.status, caught.value.message) == (500, "boom")
    assert statuses(sandbox, "/accounts/self").count(500) == FAST.max_attempts


class Dropper:
    """A server that reads each request and closes the connection without an answer: the request may have
    reached Avito, and the client cannot know."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []

    async def __aenter__(self) -> str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.requests.append(await reader.readuntil(b"\r\n\r\n"))
            writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_a_refused_connection_is_retried_for_every_method(
    tokens: OAuthTokenSource, account: SandboxAccount, http: aiohttp.ClientSession
):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = AvitoClient(tokens, account.user_id, base_url=dead, http=http, retry=FAST)
    started = time.monotonic()
    with pytest.raises(AvitoError) as caught:
        await client.send_text("chat", "Здравствуйте")  # never sent, so safe to repeat even as a POST
    assert (caught.value.status, caught.value.code) == (0, "ClientConnectorError")
    assert time.monotonic() - started < 5


async def test_a_dropped_post_is_not_repeated_but_a_dropped_get_is(
    tokens: OAuthTokenSource, account: SandboxAccount, http: aiohttp.ClientSession
):
    dropper = Dropper()
    async with dropper as url:
        client = AvitoClient(tokens, account.user_id, base_url=url, http=http, retry=FAST)
        with pytest.raises(AvitoError) as caught:
            await client.send_text("chat", "Здравствуйте")
        assert caught.value.status == 0
        assert len(dropper.requests) == 1  # a second POST could post the message twice
        with pytest.raises(AvitoError):
            await client.get_chat("chat")
    # Our policy's attempts, each of which aiohttp may repeat once at once (a reused connection may have been
    # closed by the server just before the request: RFC 9112 §9.3.1 allows it for idempotent methods).
    gets = dropper.requests[1:]
    assert FAST.max_attempts <= len(gets) <= 2 * FAST.max_attempts
    assert all(r.startswith(b"GET ") for r in gets)


# ---- chats and messages ---------------------------------------------------------------------------------


async def test_chats_paging_filters_and_chat_types(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount):
    for n in range(5):
        sandbox.state.inject(account.user_id, text=f"Вопрос {n}")
    every = sandbox.state.chats_of(account.user_id)
    u2u = {c.id for c in every if c.chat_type == "u2u"}
    assert u2u  # the seeded history has one

    paged = [chat async for chat in client.iter_chats(page_size=2)]
    assert sorted(c.id for c in paged) == sorted(c.id for c in every)
    assert len({c.id for c in paged}) == len(paged)

    only_u2i = await client.list_chats(chat_types=("u2i",))
    assert not u2u & {c.id for c in only_u2i}

    chat = next(c for c in paged if c.item_id is not None)
    assert chat.item_id is not None and chat.item_id > 2**31  # int64 ids
    assert chat.context and chat.context.value and chat.context.value.title and chat.context.value.price_string
    buyer = chat.other_user(account.user_id)
    assert buyer is not None and buyer.name
    assert buyer.public_user_profile and buyer.public_user_profile.avatar
    by_item = await client.list_chats(item_ids=[chat.item_id])
    assert by_item and all(c.item_id == chat.item_id for c in by_item)

    one = await client.get_chat(chat.id)
    assert one.id == chat.id and one.last_message is not None

    unread = {c.id for c in await client.list_chats(unread_only=True)}
    assert chat.id in unread or one.last_message.direction == "out"


async def test_messages_in_both_shapes_and_pages(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount):
    chat_id, _ = sandbox.state.inject(account.user_id, text="Первое")
    for text in ("Второе", "Третье"):
        sandbox.state.inject(account.user_id, chat_id=chat_id, text=text)

    wrapped = await client.get_messages(chat_id)
    sandbox.state.configure(messages_shape="bare")
    bare = await client.get_messages(chat_id)
    assert [m.text for m in wrapped] == [m.text for m in bare] == ["Третье", "Второе", "Первое"]  # newest first
    assert all(m.direction == "in" and not m.is_read for m in bare)

    second_page = await client.get_messages(chat_id, limit=2, offset=2)
    assert [m.text for m in second_page] == ["Первое"]
    assert [m.text async for m in client.iter_messages(chat_id, page_size=1)] == ["Третье", "Второе", "Первое"]

    with pytest.raises(InvalidInput, match="1–100"):
        await client.get_messages(chat_id, limit=101)


async def test_unknown_message_types_keep_their_content(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount):
    chat_id, _ = sandbox.state.inject(account.user_id, text="Смотрите")
    location = {"lat": 55.79, "lon": 49.12, "kind": "house", "text": "Казань, Баумана 1", "title": "Баумана 1"}
    sandbox.state.inject(account.user_id, chat_id=chat_id, type="location", content=location)
    sandbox.state.inject(account.user_id, chat_id=chat_id, type="hologram", content={"beam": [1, 2]})
    newest, loc, _ = await client.get_messages(chat_id)
    assert newest.type == "hologram" and newest.typed_content() == {"beam": [1, 2]}
    assert newest.text is None
    assert loc.typed_content().title == "Баумана 1"  # type: ignore[union-attr]


async def test_send_text_and_the_1000_character_limit(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount):
    chat_id, _ = sandbox.state.inject(account.user_id, text="Есть в наличии?")
    sent = await client.send_text(chat_id, "Да, есть!")
    assert sent.direction == "out" and sent.type == "text" and sent.content == {"text": "Да, есть!"}
    history = sandbox.state.chat_history(chat_id)
    assert history[-1]["id"] == sent.id and history[-1]["author_id"] == account.user_id

    await client.send_text(chat_id, "я" * 1000)  # exactly the limit is fine
    calls_before = len(sandbox.state.calls)
    with pytest.raises(MessageTooLong, match="1000"):
        await client.send_text(chat_id, "я" * 1001)
    assert len(sandbox.state.calls) == calls_before  # rejected before any request


async def test_upload_and_send_an_image(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount, http):
    chat_id, _ = sandbox.state.inject(account.user_id, text="Пришлите фото")
    png = item_image(1, 140)
    uploaded = await client.upload_image(png, filename="bike.png", content_type="image/png")
    assert uploaded.image_id and uploaded.sizes
    sent = await client.send_image(chat_id, uploaded.image_id)
    assert sent.type == "image"

    [message, *_] = await client.get_messages(chat_id)
    content = message.typed_content()
    assert isinstance(content, ImageContent) and content.sizes
    async with http.get(next(iter(content.sizes.values()))) as fetched:
        assert await fetched.read() == png

    with pytest.raises(AvitoError) as caught:
        await client.upload_image(b"not an image")
    assert caught.value.status == 400 and caught.value.fields


async def test_mark_read_and_delete(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount):
    chat_id, _ = sandbox.state.inject(account.user_id, text="Здравствуйте")
    assert chat_id in {c.id for c in await client.list_chats(unread_only=True)}
    await client.mark_read(chat_id)
    assert chat_id not in {c.id for c in await client.list_chats(unread_only=True)}
    assert all(m.is_read for m in await client.get_messages(chat_id) if m.direction == "in")

    sent = await client.send_text(chat_id, "Ой, не туда")
    await client.delete_message(chat_id, sent.id)
    deleted = next(m for m in await client.get_messages(chat_id) if m.id == sent.id)
    assert deleted.type == "deleted"  # stays in history, as on Avito


async def test_blacklist(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount):
    chat_id, _ = sandbox.state.inject(account.user_id, text="Спам")
    chat = await client.get_chat(chat_id)
    buyer = chat.other_user(account.user_id)
    assert buyer is not None
    await client.blacklist([BlacklistEntry(user_id=buyer.id, item_id=chat.item_id, reason_id=2)])
    assert buyer.id in sandbox.state.blacklisted[account.user_id]
    with pytest.raises(ApiError):
        sandbox.state.inject(account.user_id, chat_id=chat_id, text="Ещё спам")


async def test_voice_files(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount, http):
    chat_id, _ = sandbox.state.inject(account.user_id, type="voice", content={"voice_id": "v-42"})
    [message] = await client.get_messages(chat_id)
    content = message.typed_content()
    assert isinstance(content, VoiceContent) and content.voice_id == "v-42"
    urls = await client.get_voice_urls(["v-42"])
    assert set(urls) == {"v-42"}
    async with http.get(urls["v-42"]) as fetched:
        assert fetched.status == 200 and fetched.headers["content-type"] == "audio/mp4"


async def test_items(client: AvitoClient, sandbox: Sandbox, account: SandboxAccount):
    page = await client.list_items(per_page=5)
    assert len(page.resources) == 5 and page.meta.per_page == 5
    item = page.resources[0]
    assert item.id > 2**31 and item.title and item.price and item.status == "active"
    info = await client.get_item(item.id)
    assert info.status == "active" and info.url
    with pytest.raises(AvitoError) as caught:
        await client.get_item(1)
    assert caught.value.status == 404


async def test_webhook_subscriptions(client: AvitoClient):
    await client.subscribe_webhook("http://127.0.0.1:9/hook/one")
    await client.subscribe_webhook("http://127.0.0.1:9/hook/two")
    assert [s.url for s in await client.list_subscriptions()] == [
        "http://127.0.0.1:9/hook/one",
        "http://127.0.0.1:9/hook/two",
    ]
    await client.unsubscribe_webhook("http://127.0.0.1:9/hook/one")
    assert [s.url for s in await client.list_subscriptions()] == ["http://127.0.0.1:9/hook/two"]


async def test_a_token_of_another_account_is_refused(sandbox: Sandbox, tokens: OAuthTokenSource, http):
    other = sandbox.accounts[1]
    client = AvitoClient(tokens, other.user_id, base_url=sandbox.url, http=http, retry=FAST)
    with pytest.raises(AvitoError) as caught:
        await client.list_chats()
    assert caught.value.status == 403
