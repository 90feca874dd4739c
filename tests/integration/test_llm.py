"""graphs/llm.py with the real langchain-openai client against the local OpenAI-compatible server
(tests/llm_server.py), and that server's embeddings endpoint with the real OpenAIEmbedder."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal

import httpx
import msgspec
import numpy as np
import pytest

from core.embedded import free_port
from core.errors import ConfigError
from core.settings import Settings
from graphs.llm import CachedLLMClient, LLMClient, LLMError, chat_model
from graphs.retrieval.embedders import OpenAIEmbedder
from tests.llm_server import LLMServer, Reply, delayed, embedding, error

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [
    {"role": "system", "content": "Ты помощник продавца на Авито."},
    {"role": "user", "content": "Здравствуйте, велосипед ещё продаётся?"},
    {"role": "assistant", "content": "Да, продаётся."},
    {"role": "user", "content": "А доставка есть?"},
]


class Intent(msgspec.Struct, frozen=True):
    """The buyer's intent."""

    intent: Literal["price", "delivery", "other"]
    confidence: float
    note: str | None = None


class IntentV2(msgspec.Struct, frozen=True):
    """The same name and meaning with one more field: the cache must not serve the old entries for it."""

    intent: Literal["price", "delivery", "other"]
    confidence: float
    note: str | None = None
    urgent: bool = False


def make_settings(tmp_path: Path, base_url: str, key: str | None = "test-key") -> Settings:
    return Settings(
        openrouter_api_key=key, llm_base_url=base_url, data_dir=tmp_path, public_url="https://avibot.example.ru"
    )


@pytest.fixture
async def llm(llm_server: LLMServer, tmp_path: Path) -> AsyncIterator[LLMClient]:
    async with LLMClient(make_settings(tmp_path, llm_server.openrouter_base_url), timeout=5) as client:
        yield client


# ---- what goes over the wire ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["openrouter", "openai"])
@pytest.mark.parametrize(
    ("model", "sent_temperature"),
    [
        ("openai/gpt-5-mini", 0.3),  # an OpenRouter id: langchain-openai's gpt-5 rule does not match it
        ("gpt-5-mini", None),  # a bare gpt-5 id: langchain-openai drops temperature
        ("qwen/qwen3-32b", 0.3),
    ],
)
async def test_request_arrives_as_sent(
    llm_server: LLMServer, tmp_path: Path, style: str, model: str, sent_temperature: float | None
) -> None:
    base_url = llm_server.openrouter_base_url if style == "openrouter" else llm_server.base_url
    async with LLMClient(make_settings(tmp_path, base_url)) as client:
        result = await client.complete(MESSAGES, model=model, temperature=0.3, max_tokens=256)

    [request] = llm_server.requests
    assert request.path == ("/api/v1/chat/completions" if style == "openrouter" else "/v1/chat/completions")
    assert request.model == model
    assert request.messages == MESSAGES
    assert request.body["max_completion_tokens"] == 256
    assert "max_tokens" not in request.body
    assert request.temperature == sent_temperature
    assert ("temperature" in request.body) == (sent_temperature is not None)
    assert request.response_format is None
    assert request.body.get("stream") in (None, False)
    assert request.authorization == "Bearer test-key"
    assert request.headers["http-referer"] == "https://avibot.example.ru"
    assert request.headers["x-openrouter-title"] == "avibot"

    # The result records what was sent, which is what the tester shows and a bot turn stores.
    assert result.temperature == sent_temperature
    assert result.max_tokens == 256
    assert result.content == "echo: А доставка есть?"
    assert result.model == model
    assert result.finish_reason == "stop"
    assert result.tokens_in == sum(len(m["content"].split()) for m in MESSAGES)
    assert result.tokens_out == len(result.content.split())
    assert result.latency_ms > 0
    assert result.cached is False


async def test_usage_and_reported_model_come_from_the_response(llm_server: LLMServer, llm: LLMClient) -> None:
    llm_server.script(Reply(text="Да, доставка Авито.", usage=(1234, 56), model="openai/gpt-5-mini-2025-08-07"))
    result = await llm.complete(MESSAGES, model="openai/gpt-5-mini", temperature=0, max_tokens=100)
    assert (result.content, result.tokens_in, result.tokens_out) == ("Да, доставка Авито.", 1234, 56)
    assert result.model == "openai/gpt-5-mini-2025-08-07"


def test_chat_model_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY"):
        chat_model(make_settings(tmp_path, "http://127.0.0.1:9/v1", key=None), "openai/gpt-5-mini", 0.2, 100)


# ---- structured output ---------------------------------------------------------------------------------


async def test_structured_output_is_decoded_into_the_struct(llm_server: LLMServer, llm: LLMClient) -> None:
    llm_server.script(Reply(json={"intent": "delivery", "confidence": 0.92, "note": None}, usage=(40, 12)))
    result = await llm.complete(MESSAGES, model="openai/gpt-5-mini", temperature=0, max_tokens=200, schema=Intent)

    assert result.parsed == Intent(intent="delivery", confidence=0.92)
    assert json.loads(result.content) == {"intent": "delivery", "confidence": 0.92, "note": None}
    assert (result.tokens_in, result.tokens_out) == (40, 12)
    fmt = llm_server.requests[0].response_format
    assert fmt is not None and fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert (spec["name"], spec["strict"]) == ("Intent", True)
    # Strict mode's rules: an object at the root, every property required, nothing else allowed, no defaults.
    schema = spec["schema"]
    assert schema["type"] == "object"
    assert schema["required"] == ["intent", "confidence", "note"]
    assert schema["additionalProperties"] is False
    assert "$ref" not in schema and "default" not in json.dumps(schema)


async def test_unscripted_structured_request_gets_a_valid_default(llm_server: LLMServer, llm: LLMClient) -> None:
    result = await llm.complete(MESSAGES, model="m", temperature=0, max_tokens=50, schema=Intent)
    assert result.parsed == Intent(intent="delivery", confidence=0.0)  # msgspec sorts Literal values


async def test_json_in_a_markdown_fence_is_accepted(llm_server: LLMServer, llm: LLMClient) -> None:
    llm_server.script('```json\n{"intent": "price", "confidence": 0.5, "note": "торг"}\n```')
    result = await llm.complete(MESSAGES, model="m", temperature=0, max_tokens=50, schema=Intent)
    assert result.parsed == Intent(intent="price", confidence=0.5, note="торг")


@pytest.mark.parametrize(
    "reply",
    [
        "Покупатель спрашивает про доставку.",  # not JSON at all
        '{"intent": "delivery", "confidence": ',  # cut off
        {"intent": "shipping", "confidence": 0.9, "note": None},  # not one of the Literal values
        {"intent": "delivery", "confidence": "high", "note": None},  # wrong type
    ],
)
async def test_invalid_structured_output_is_an_llm_error(
    llm_server: LLMServer, llm: LLMClient, reply: str | dict[str, object]
) -> None:
    llm_server.script(reply)
    with pytest.raises(LLMError) as caught:
        await llm.complete(MESSAGES, model="m", temperature=0, max_tokens=50, schema=Intent)
    assert caught.value.kind == "invalid_output"
    assert "Intent" in str(caught.value) and "формате" in str(caught.value)
    assert caught.value.cause  # the decoder's English message and the content, for the log


async def test_output_cut_by_the_token_limit(llm_server: LLMServer, llm: LLMClient) -> None:
    llm_server.script(Reply(text='{"intent": "deliv', finish_reason="length"), Reply(text="", finish_reason="length"))
    with pytest.raises(LLMError) as structured:
        await llm.complete(MESSAGES, model="m", temperature=0, max_tokens=5, schema=Intent)
    with pytest.raises(LLMError) as plain:
        await llm.complete(MESSAGES, model="m", temperature=0, max_tokens=5)
    for caught in (structured, plain):
        assert caught.value.kind == "truncated"
        assert "лимит токенов (5)" in str(caught.value)


# ---- failures ------------------------------------------------------------------------------------------


async def test_rate_limit_is_retried_after_retry_after(llm_server: LLMServer, llm: LLMClient) -> None:
    llm_server.script(error(429, "Rate limit exceeded", retry_after=0.3), "Есть доставка.")
    result = await llm.complete(MESSAGES, model="m", temperature=0, max_tokens=50)
    assert result.content == "Есть доставка."
    first, second = llm_server.requests
    assert second.received_at - first.received_at >= 0.3
    assert second.headers["x-stainless-retry-count"] == "1"
    assert result.latency_ms >= 300


async def test_server_errors_exhaust_the_retries(llm_server: LLMServer, llm: LLMClient) -> None:
    llm_server.script(*[error(503, "upstream overloaded", retry_after=0.01)] * 3)
    with pytest.raises(LLMError) as caught:
        await llm.complete(MESSAGES, model="m", temperature=0, max_tokens=50)
    assert (caught.value.kind, caught.value.status) == ("server", 503)
    assert str(caught.value) == "Сервер LLM вернул ошибку HTTP 503, попыток: 3."
    assert "upstream overloaded" in caught.value.cause
    assert len(llm_server.requests) == 3  # max_retries=2


async def test_timeout_is_an_llm_error(llm_server: LLMServer, tmp_path: Path) -> None:
    llm_server.script(delayed(10), delayed(10))
    started = time.monotonic()
    async with LLMClient(make_settings(tmp_path, llm_server.base_url), timeout=0.3, max_retries=1) as client:
        with pytest.raises(LLMError) as caught:
            await client.complete(MESSAGES, model="openai/gpt-5-nano", temperature=0, max_tokens=50)
    assert caught.value.kind == "timeout"
    assert str(caught.value) == "Модель «openai/gpt-5-nano» не ответила вовремя (0.3 с на попытку, попыток: 2)."
    assert len(llm_server.requests) == 2
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("status", [401, 403])
async def test_a_rejected_key_fails_at_once(llm_server: LLMServer, llm: LLMClient, status: int) -> None:
    llm_server.script(error(status, "No auth credentials found"))
    with pytest.raises(LLMError) as caught:
        await llm.complete(MESSAGES, model="m", temperature=0, max_tokens=50)
    assert (caught.value.kind, caught.value.status) == ("auth", status)
    assert "OPENROUTER_API_KEY" in str(caught.value)
    assert "No auth credentials found" in caught.value.cause
    assert len(llm_server.requests) == 1  # no retries: another attempt cannot fix a key


@pytest.mark.parametrize(
    ("status", "kind"), [(400, "bad_request"), (402, "payment"), (404, "not_found"), (422, "bad_request")]
)
async def test_other_statuses_are_not_retried(llm_server: LLMServer, llm: LLMClient, status: int, kind: str) -> None:
    llm_server.script(error(status, "openai/gpt-9 is not a valid model ID"))
    with pytest.raises(LLMError) as caught:
        await llm.complete(MESSAGES, model="openai/gpt-9", temperature=0, max_tokens=50)
    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert len(llm_server.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "Provider returned error", "code": 502}},  # OpenRouter: HTTP 200, upstream failed
        {"object": "list", "data": []},  # not a chat completion at all
    ],
)
async def test_a_body_that_is_not_a_completion(llm_server: LLMServer, llm: LLMClient, body: dict[str, object]) -> None:
    llm_server.script(Reply(body=body))
    with pytest.raises(LLMError) as caught:
        await llm.complete(MESSAGES, model="m", temperature=0, max_tokens=50)
    assert caught.value.kind == "bad_response"
    assert str(caught.value) == "Сервер LLM вернул ответ, который не удалось разобрать."


async def test_nothing_listening_is_a_connection_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"http://127.0.0.1:{free_port()}/v1")
    async with LLMClient(settings, max_retries=0) as client:
        with pytest.raises(LLMError) as caught:
            await client.complete(MESSAGES, model="m", temperature=0, max_tokens=50)
    assert caught.value.kind == "connection"
    assert "LLM_BASE_URL" in str(caught.value)


# ---- the cache -----------------------------------------------------------------------------------------


async def test_cache_answers_a_repeated_request_without_calling(
    llm_server: LLMServer, llm: LLMClient, tmp_path: Path
) -> None:
    cache = CachedLLMClient(llm, tmp_path / "cache")
    llm_server.script(Reply(text="Доставка есть.", usage=(30, 3)), {"intent": "delivery", "confidence": 0.8})

    first = await cache.complete(MESSAGES, model="m", temperature=0.2, max_tokens=50)
    again = await cache.complete(MESSAGES, model="m", temperature=0.2, max_tokens=50)
    assert len(llm_server.requests) == 1
    assert first.cached is False and again.cached is True
    assert msgspec.structs.replace(again, cached=False) == first

    parsed = await cache.complete(MESSAGES, model="m", temperature=0.2, max_tokens=50, schema=Intent)
    parsed_again = await cache.complete(MESSAGES, model="m", temperature=0.2, max_tokens=50, schema=Intent)
    assert len(llm_server.requests) == 2
    assert parsed_again.parsed == parsed.parsed == Intent(intent="delivery", confidence=0.8)
    assert isinstance(parsed_again.parsed, Intent)
    assert (cache.hits, cache.misses, cache.unreadable) == (2, 2, 0)

    # A new client over the same directory (the next replay run) hits too: the key is not per process.
    rerun = CachedLLMClient(llm, tmp_path / "cache")
    assert (await rerun.complete(MESSAGES, model="m", temperature=0.2, max_tokens=50)).content == "Доставка есть."
    assert len(llm_server.requests) == 2


async def test_cache_key_changes_with_every_parameter(llm_server: LLMServer, llm: LLMClient, tmp_path: Path) -> None:
    cache = CachedLLMClient(llm, tmp_path / "cache")
    base = {"model": "m", "temperature": 0.2, "max_tokens": 50, "schema": None}
    variants = [
        base,
        {**base, "model": "m2"},
        {**base, "temperature": 0.3},
        {**base, "max_tokens": 51},
        {**base, "schema": Intent},
        {**base, "schema": IntentV2},
    ]
    messages_variants = [
        [*MESSAGES[:-1], {"role": "user", "content": "А доставка есть?!"}],
        [*MESSAGES[:-1], {"role": "system", "content": "А доставка есть?"}],
        MESSAGES[1:],
    ]
    calls = [(MESSAGES, v) for v in variants] + [(m, base) for m in messages_variants]
    for messages, params in calls:
        await cache.complete(messages, **params)  # type: ignore[arg-type]
    assert len(llm_server.requests) == len(calls)
    for messages, params in calls:
        assert (await cache.complete(messages, **params)).cached  # type: ignore[arg-type]
    assert len(llm_server.requests) == len(calls)
    # An int temperature is the same request as the equal float.
    assert cache.key(MESSAGES, model="m", temperature=1, max_tokens=5) == cache.key(
        MESSAGES, model="m", temperature=1.0, max_tokens=5
    )


async def test_errors_are_not_cached(llm_server: LLMServer, llm: LLMClient, tmp_path: Path) -> None:
    cache = CachedLLMClient(llm, tmp_path / "cache")
    llm_server.script(error(401), "Теперь с ключом.")
    with pytest.raises(LLMError):
        await cache.complete(MESSAGES, model="m", temperature=0, max_tokens=50)
    assert (await cache.complete(MESSAGES, model="m", temperature=0, max_tokens=50)).content == "Теперь с ключом."
    assert not list((tmp_path / "cache").rglob("*.tmp"))


async def test_an_unreadable_entry_is_a_miss_and_is_replaced(
    llm_server: LLMServer, llm: LLMClient, tmp_path: Path
) -> None:
    cache = CachedLLMClient(llm, tmp_path / "cache")
    key, _ = cache.key(MESSAGES, model="m", temperature=0, max_tokens=50)
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_text('{"key": "torn')
    assert (await cache.complete(MESSAGES, model="m", temperature=0, max_tokens=50)).cached is False
    assert cache.unreadable == 1
    assert (await cache.complete(MESSAGES, model="m", temperature=0, max_tokens=50)).cached is True


# Runs in separate processes (the test below): every prompt through one cache directory shared with rival
# processes, in its own order, after a common start signal. The inner client is a stand-in, because the files
# are what is under test; its answers are large so that a non-atomic write would be caught mid-way by a reader.
CACHE_WORKER = """
import asyncio, json, random, sys
from pathlib import Path
from graphs.llm import CachedLLMClient, LLMResult

class Echo:
    async def complete(self, messages, *, model, temperature, max_tokens, schema=None):
        await asyncio.sleep(0)
        text = ("echo: " + messages[-1]["content"] + " ") * 2000
        return LLMResult(content=text, model=model, tokens_in=1, tokens_out=1, latency_ms=1.0,
                         temperature=temperature, max_tokens=max_tokens)

async def main(directory, seed, count):
    prompts = [f"вопрос {i}" for i in range(count)] * 3
    random.Random(seed).shuffle(prompts)
    cache = CachedLLMClient(Echo(), Path(directory))
    for prompt in prompts:
        result = await cache.complete([{"role": "user", "content": prompt}], model="m", temperature=0, max_tokens=9)
        assert result.content == ("echo: " + prompt + " ") * 2000, prompt
    return {"hits": cache.hits, "misses": cache.misses, "unreadable": cache.unreadable}

print("ready", flush=True)
sys.stdin.readline()
print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))))
"""


async def test_concurrent_processes_share_the_cache_safely(tmp_path: Path) -> None:
    directory, count, processes = tmp_path / "cache", 40, 4
    workers = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-c", CACHE_WORKER, str(directory), str(seed), str(count)),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for seed in range(processes)
    ]
    try:
        for worker in workers:  # all imported and waiting: then they start together and really race
            assert worker.stdout is not None
            assert await asyncio.wait_for(worker.stdout.readline(), 60) == b"ready\n"
        outputs = [await asyncio.wait_for(worker.communicate(b"go\n"), 60) for worker in workers]
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()
    counters = [json.loads(out) for out, _ in outputs]

    assert [c["unreadable"] for c in counters] == [0] * processes  # no reader ever saw a half-written entry
    assert sum(c["hits"] + c["misses"] for c in counters) == processes * 3 * count
    assert sum(c["misses"] for c in counters) >= count
    assert not list(directory.rglob("*.tmp"))
    assert len(list(directory.rglob("*.json"))) == count
    # No inner client at all: every answer must come from the files.
    cache = CachedLLMClient(None, directory)  # type: ignore[arg-type]
    for i in range(count):
        result = await cache.complete(
            [{"role": "user", "content": f"вопрос {i}"}], model="m", temperature=0, max_tokens=9
        )
        assert result.cached and result.content.startswith(f"echo: вопрос {i} ")


# ---- embeddings ----------------------------------------------------------------------------------------


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # OpenAIEmbedder has no close(); the connection pool it would build itself leaks its keep-alive sockets
    # (a ResourceWarning, an error here), so the test hands it one and closes it.
    with httpx.Client(timeout=10) as client:
        yield client


def test_embeddings_with_openai_embedder(llm_server: LLMServer, http: httpx.Client) -> None:
    texts = [f"Текст номер {i}" for i in range(7)]
    embedder = OpenAIEmbedder(
        base_url=llm_server.base_url, model="test-embeddings", api_key="emb-key", batch_size=3, client=http
    )
    vectors = embedder.embed(texts)

    assert vectors.shape == (7, 64) and vectors.dtype == np.float32
    assert embedder.dim == 64
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors[4], embedding(texts[4], 64), rtol=1e-5)
    requests = llm_server.requests_to("embeddings")
    assert [r.inputs for r in requests] == [texts[0:3], texts[3:6], texts[6:7]]
    assert {r.model for r in requests} == {"test-embeddings"}
    assert {r.authorization for r in requests} == {"Bearer emb-key"}

    # Deterministic: the same text has the same vector in another call and batch position.
    again = embedder.embed([texts[4], "другой текст"])
    np.testing.assert_array_equal(again[0], vectors[4])
    assert abs(float(again[0] @ again[1])) < 0.9


def test_embedding_dimension_is_configurable(llm_server: LLMServer, http: httpx.Client) -> None:
    llm_server.embedding_dim = 16
    embedder = OpenAIEmbedder(base_url=llm_server.base_url, model="e", api_key="k", client=http)
    assert embedder.embed(["а", "б"]).shape == (2, 16)
    assert embedder.dim == 16


def test_embeddings_rate_limit_is_retried(llm_server: LLMServer, http: httpx.Client) -> None:
    llm_server.script(error(429, retry_after=0), endpoint="embeddings")
    embedder = OpenAIEmbedder(base_url=llm_server.base_url, model="e", api_key="k", client=http)
    assert embedder.embed(["привет"]).shape == (1, 64)
    assert len(llm_server.requests_to("embeddings")) == 2
