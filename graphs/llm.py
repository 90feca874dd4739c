"""LLM access for the scenario engine: the ChatOpenAI factory, the small async client nodes call, and a disk
cache that makes a batch replay's second run free.

Every model goes through ``langchain-openai`` against ``LLM_BASE_URL`` (OpenRouter by default, any
OpenAI-compatible chat endpoint otherwise), on the Chat Completions API only — that is the one API every such
endpoint implements. What langchain-openai does to parameters is accepted, not worked around, and recorded in
each :class:`LLMResult`: the output limit travels as ``max_completion_tokens``, and ``temperature`` is dropped
for model ids that *start with* ``gpt-5`` (not ``openai/gpt-5…`` — OpenRouter ids keep it).

Structured output uses the ``json_schema`` response format built from a msgspec Struct, and the reply is decoded
by msgspec into that Struct, so a node gets a typed value or an :class:`LLMError` — never a half-valid dict.

Every failure (timeout, connection, HTTP status after the SDK's retries, truncated or malformed output) becomes
one :class:`LLMError`: ``str()`` is Russian for the tester UI and the operator, ``cause`` is the English detail
for logs.

langchain-openai and the openai SDK are imported on first use, not with this module: together they take ~5 s
to import, which every Ray worker and CLI command that only runs the offline engine would pay otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec

from core.errors import AvibotError, ConfigError

if TYPE_CHECKING:
    import openai
    from langchain_core.messages import BaseMessage
    from langchain_openai import ChatOpenAI

__all__ = [
    "CachedLLMClient",
    "LLMClient",
    "LLMError",
    "LLMResult",
    "LLMSettings",
    "Message",
    "SupportsComplete",
    "chat_model",
    "response_format",
]

DEFAULT_TIMEOUT = 30.0  # seconds per attempt; a buyer is waiting, and a stuck provider must not hold the chat
DEFAULT_MAX_RETRIES = 2  # the openai SDK retries connection errors, timeouts, 408/409/429/5xx, honouring Retry-After
APP_TITLE = "avibot"

# {"role": "system" | "user" | "assistant", "content": str}: plain JSON, so it can live in graph state and be
# hashed for the cache as it is.
Message = Mapping[str, str]

ErrorKind = Literal[
    "timeout",
    "connection",
    "auth",
    "payment",
    "rate_limit",
    "not_found",
    "bad_request",
    "server",
    "bad_response",
    "truncated",
    "refused",
    "invalid_output",
]


class LLMSettings(Protocol):
    """What :func:`chat_model` reads from :class:`core.settings.Settings` (or anything shaped like it)."""

    @property
    def llm_base_url(self) -> str: ...

    @property
    def openrouter_api_key(self) -> str | None: ...


class LLMError(AvibotError):
    """A model call that produced no usable answer. ``str(error)`` is Russian (shown in the tester and to
    operators); ``cause`` is the English detail for logs; ``kind`` lets a caller tell a timeout from a bad key."""

    status_code = 502  # the upstream model failed, not the request that triggered the call

    def __init__(self, message: str, *, cause: str, kind: ErrorKind, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.kind = kind
        self.status = status

    def __repr__(self) -> str:
        return f"LLMError(kind={self.kind!r}, status={self.status!r}, cause={self.cause!r})"


class LLMResult(msgspec.Struct, frozen=True, kw_only=True):
    """One model answer and what it cost."""

    content: str  # the reply text; with a schema, the JSON text that `parsed` was decoded from
    parsed: Any = None  # the schema's Struct instance when a schema was given
    model: str  # the model that answered, as the provider reports it (OpenRouter may route elsewhere)
    tokens_in: int
    tokens_out: int
    latency_ms: float  # wall time of the call including the SDK's retries; as first measured for cached results
    temperature: float | None  # as sent: None when langchain-openai dropped it (gpt-5 models)
    max_tokens: int  # as sent, under the name max_completion_tokens
    finish_reason: str | None = None
    cached: bool = False


class SupportsComplete(Protocol):
    """What nodes depend on: :class:`LLMClient` and :class:`CachedLLMClient` both are."""

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        temperature: float,
        max_tokens: int,
        schema: type[msgspec.Struct] | None = None,
    ) -> LLMResult: ...


def attribution_headers(settings: LLMSettings) -> dict[str, str]:
    """OpenRouter's optional app attribution; other endpoints ignore these headers. The referer is sent only
    when PUBLIC_URL names a real deployment — a loopback address identifies nothing."""
    headers = {"X-OpenRouter-Title": APP_TITLE, "X-Title": APP_TITLE}  # X-Title: the older name, still read
    if public_url := getattr(settings, "public_url", None):
        headers["HTTP-Referer"] = public_url
    return headers


def chat_model(
    settings: LLMSettings,
    model: str,
    temperature: float,
    max_tokens: int,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_retries: int = DEFAULT_MAX_RETRIES,
    http_async_client: Any = None,
) -> ChatOpenAI:
    """A ChatOpenAI for one (model, temperature, max_tokens) against LLM_BASE_URL with OPENROUTER_API_KEY.

    ``http_async_client`` (an ``openai.DefaultAsyncHttpxClient``) lets the caller own the connection pool;
    without it langchain-openai shares a process-wide one.
    """
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    if not settings.openrouter_api_key:
        raise ConfigError(
            "OPENROUTER_API_KEY is not set: the LLM engine needs it (without it the offline engine runs)."
        )
    return ChatOpenAI(
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        base_url=settings.llm_base_url,
        api_key=SecretStr(settings.openrouter_api_key),
        timeout=timeout,
        max_retries=max_retries,
        default_headers=attribution_headers(settings),
        # OpenRouter and most compatible servers implement Chat Completions only; never let a model name or a
        # parameter switch us to the Responses API.
        use_responses_api=False,
        http_async_client=http_async_client,
    )


def response_format(schema: type[msgspec.Struct]) -> dict[str, Any]:
    """The ``json_schema`` response format for a Struct, in the shape OpenAI's strict mode accepts.

    msgspec puts the root under ``$defs`` behind a ``$ref``; structured output needs an object at the root. Strict
    mode also wants every property listed as required and no extra properties: a field with a default becomes
    required (the model then states it), an Optional field stays nullable. A schema strict mode cannot express
    (a free-form ``dict`` field) is sent non-strict rather than rejected.
    """
    full = msgspec.json.schema(schema)
    defs: dict[str, Any] = dict(full.get("$defs", {}))
    name = full["$ref"].rsplit("/", 1)[-1]
    root = dict(defs[name])
    if f'"#/$defs/{name}"' not in msgspec.json.encode(defs).decode():  # kept only when the Struct is recursive
        del defs[name]
    strict = True

    def tighten(node: Any) -> Any:
        nonlocal strict
        if isinstance(node, list):
            return [tighten(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: tighten(value) for key, value in node.items() if key != "default"}
        if out.get("type") == "object":
            if "properties" in out:
                out["required"] = list(out["properties"])
                out["additionalProperties"] = False
            else:
                strict = False
        return out

    root = tighten(root)
    if defs:
        root["$defs"] = tighten(defs)
    return {
        "type": "json_schema",
        "json_schema": {"name": re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64], "schema": root, "strict": strict},
    }


def _to_langchain(messages: Sequence[Message]) -> list[BaseMessage]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds: dict[str, type[BaseMessage]] = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    out: list[BaseMessage] = []
    for message in messages:
        role = message["role"]
        if role not in kinds:
            raise ValueError(f"unknown message role {role!r}; expected one of {sorted(kinds)}")
        out.append(kinds[role](content=message["content"]))
    return out


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def _decode(content: str, schema: type[msgspec.Struct]) -> Any:
    # Some models behind OpenRouter ignore response_format and wrap the JSON in a Markdown fence anyway.
    if match := _FENCE.match(content):
        content = match.group(1)
    return msgspec.json.decode(content.strip(), type=schema)


class LLMClient:
    """Calls models for the nodes. Owns one HTTP connection pool (close it with :meth:`aclose` or ``async with``)
    and one ChatOpenAI per (model, temperature, max_tokens) it has seen. Safe for concurrent calls on one
    event loop."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        import openai

        self.settings = settings
        self.timeout = timeout
        self.max_retries = max_retries
        # Our own pool rather than langchain's process-wide one: its connections belong to the event loop that
        # opened them, and this client's lifetime is the loop's (an actor's, a test's).
        self._http = openai.DefaultAsyncHttpxClient()
        self._models: dict[tuple[str, float, int], ChatOpenAI] = {}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _model(self, model: str, temperature: float, max_tokens: int) -> ChatOpenAI:
        key = (model, temperature, max_tokens)
        if (chat := self._models.get(key)) is None:
            chat = chat_model(
                self.settings,
                model,
                temperature,
                max_tokens,
                timeout=self.timeout,
                max_retries=self.max_retries,
                http_async_client=self._http,
            )
            self._models[key] = chat
        return chat

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        temperature: float,
        max_tokens: int,
        schema: type[msgspec.Struct] | None = None,
    ) -> LLMResult:
        """One chat completion; with ``schema``, a structured one decoded into that Struct. Raises LLMError."""
        import openai
        from langchain_core.messages import AIMessage

        chat = self._model(model, float(temperature), max_tokens)
        # Binding response_format directly (rather than with_structured_output) sends exactly the schema built
        # above and leaves decoding to msgspec, which checks types the way the rest of the code base does.
        runnable = chat if schema is None else chat.bind(response_format=response_format(schema))
        lc_messages = _to_langchain(messages)
        started = time.perf_counter()
        try:
            reply = await runnable.ainvoke(lc_messages)
        except openai.OpenAIError as exc:
            raise self._error(exc, model, max_tokens) from exc
        except (KeyError, TypeError, ValueError) as exc:
            # langchain-openai's complaints about a body that is not a chat completion: OpenRouter's HTTP 200
            # carrying {"error": …} when the upstream provider failed, an HTML page from a proxy, a server that is
            # not OpenAI-compatible at all.
            raise LLMError(
                "Сервер LLM вернул ответ, который не удалось разобрать.",
                cause=f"{type(exc).__name__}: {exc}",
                kind="bad_response",
            ) from exc
        latency_ms = round((time.perf_counter() - started) * 1000, 1)
        assert isinstance(reply, AIMessage)
        content = reply.content if isinstance(reply.content, str) else reply.text
        finish_reason = reply.response_metadata.get("finish_reason")
        if refusal := reply.additional_kwargs.get("refusal"):
            raise LLMError(f"Модель отказалась отвечать: {refusal}", cause=f"refusal: {refusal}", kind="refused")
        if not content and finish_reason == "length":
            raise _truncated(max_tokens, "empty content with finish_reason=length")
        parsed = None
        if schema is not None:
            try:
                parsed = _decode(content, schema)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise LLMError(
                    f"Модель вернула ответ не в том формате, который ждёт узел ({schema.__name__}).",
                    cause=f"{exc}; content: {content[:300]!r}",
                    kind="invalid_output",
                ) from exc
        usage = reply.usage_metadata or {"input_tokens": 0, "output_tokens": 0}
        return LLMResult(
            content=content,
            parsed=parsed,
            model=reply.response_metadata.get("model_name") or model,
            tokens_in=usage["input_tokens"],
            tokens_out=usage["output_tokens"],
            latency_ms=latency_ms,
            temperature=chat.temperature,
            max_tokens=max_tokens,
            finish_reason=finish_reason,
        )

    def _error(self, exc: openai.OpenAIError, model: str, max_tokens: int) -> LLMError:
        import openai

        cause = f"{type(exc).__name__}: {exc}"
        attempts = self.max_retries + 1
        if isinstance(exc, openai.APITimeoutError):
            return LLMError(
                f"Модель «{model}» не ответила вовремя ({self.timeout:g} с на попытку, попыток: {attempts}).",
                cause=cause,
                kind="timeout",
            )
        if isinstance(exc, openai.APIConnectionError):
            return LLMError(
                f"Не удалось подключиться к LLM ({self.settings.llm_base_url}): проверьте LLM_BASE_URL и сеть.",
                cause=cause,
                kind="connection",
            )
        if isinstance(exc, openai.LengthFinishReasonError):
            return _truncated(max_tokens, cause)
        if isinstance(exc, openai.ContentFilterFinishReasonError):
            return LLMError("Ответ модели заблокирован фильтром содержимого.", cause=cause, kind="refused")
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = exc.message
            kind: ErrorKind
            if status in (401, 403):
                kind, text = "auth", f"LLM отклонил ключ доступа (HTTP {status}): проверьте OPENROUTER_API_KEY."
            elif status == 402:
                kind, text = "payment", "LLM отказал: на счёте недостаточно средств (HTTP 402)."
            elif status == 404:
                kind, text = "not_found", f"Модель «{model}» не найдена (HTTP 404): проверьте идентификатор модели."
            elif status == 429:
                kind, text = "rate_limit", f"LLM ограничил частоту запросов (HTTP 429), попыток: {attempts}."
            elif status >= 500:
                kind, text = "server", f"Сервер LLM вернул ошибку HTTP {status}, попыток: {attempts}."
            else:
                kind, text = "bad_request", f"LLM отклонил запрос (HTTP {status}): {detail}"
            return LLMError(text, cause=cause, kind=kind, status=status)
        return LLMError("Ошибка при обращении к LLM.", cause=cause, kind="bad_response")


def _truncated(max_tokens: int, cause: str) -> LLMError:
    return LLMError(
        f"Ответ модели не уместился в лимит токенов ({max_tokens}): увеличьте лимит в настройках узла.",
        cause=cause,
        kind="truncated",
    )


class _CacheEntry(msgspec.Struct, frozen=True):
    key: str
    request: dict[str, Any]  # what the key was computed from, for a person reading the file
    result: LLMResult


class CachedLLMClient:
    """A :class:`SupportsComplete` that answers repeated requests from JSON files under ``directory``.

    Used by batch replay so that a re-run costs nothing. The key is a SHA-256 over (model, temperature,
    max_tokens, messages, response format) in a canonical encoding, so it is the same in every process and
    changes with any of them — including a change to the schema Struct's fields. Only successful results are
    stored; an error is raised every time so a re-run retries it.

    Safe for concurrent processes on one directory: each entry is written to a temporary file in the same
    directory and renamed over the target (atomic on POSIX), so a reader sees no file or a whole one. Two
    processes missing the same key both call the model and the last rename wins; both entries are valid. A file
    that does not decode (a crash mid-write on a filesystem without atomic rename, a format change) is a miss
    and is overwritten.
    """

    VERSION = 1  # bump when the entry format or the key's recipe changes

    def __init__(self, inner: SupportsComplete, directory: Path) -> None:
        self.inner = inner
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self.unreadable = 0  # entries that existed but did not decode; nonzero means something wrote badly

    def key(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        temperature: float,
        max_tokens: int,
        schema: type[msgspec.Struct] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """The cache key and the canonical request it is the hash of."""
        request = {
            "v": self.VERSION,
            "model": model,
            "temperature": float(temperature),  # 1 and 1.0 are the same request
            "max_tokens": int(max_tokens),
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "response_format": response_format(schema) if schema is not None else None,
        }
        return hashlib.sha256(msgspec.json.encode(request, order="sorted")).hexdigest(), request

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"  # fan out: a replay writes tens of thousands

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        temperature: float,
        max_tokens: int,
        schema: type[msgspec.Struct] | None = None,
    ) -> LLMResult:
        key, request = self.key(messages, model=model, temperature=temperature, max_tokens=max_tokens, schema=schema)
        path = self.path(key)
        if (hit := await asyncio.to_thread(self._read, path, schema)) is not None:
            self.hits += 1
            return hit
        self.misses += 1
        result = await self.inner.complete(
            messages, model=model, temperature=temperature, max_tokens=max_tokens, schema=schema
        )
        stored = msgspec.structs.replace(result, cached=False)
        await asyncio.to_thread(self._write, path, _CacheEntry(key=key, request=request, result=stored))
        return result

    def _read(self, path: Path, schema: type[msgspec.Struct] | None) -> LLMResult | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            result = msgspec.json.decode(data, type=_CacheEntry).result
            # Stored as plain JSON; the Struct comes back through the same schema the caller asked with.
            parsed = msgspec.convert(result.parsed, schema) if schema is not None else None
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.unreadable += 1
            return None
        return msgspec.structs.replace(result, parsed=parsed, cached=True)

    def _write(self, path: Path, entry: _CacheEntry) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # No fsync: after a power loss a torn entry only costs one more model call (it reads as a miss).
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem[:16]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(msgspec.json.format(msgspec.json.encode(entry), indent=1))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
