"""A real OpenAI-compatible HTTP server that stands in for OpenRouter in tests.

It speaks just enough of the API for our clients — ``POST /v1/chat/completions`` (also under ``/api/v1`` so an
OpenRouter-style base URL works unchanged) and ``POST /v1/embeddings`` — over real HTTP on loopback, so the
code under test runs its real client stack (langchain-openai → openai SDK → httpx) including retries, timeouts
and headers. Nothing in the client is patched.

A test scripts the answers (:meth:`LLMServer.script`) and reads what arrived (:attr:`LLMServer.requests`):

    llm_server.script("Здравствуйте!", {"intent": "price"}, error(429, retry_after=0.05), delayed(5))
    llm_server.script(lambda request: "да" if "доставка" in request.last_user_text else None)

Queued replies are used first, in order; then the handler function (returning ``None`` means "default"); then
the default: ``echo: <last user message>`` for text, and the smallest instance of the requested JSON schema
for structured output, so a scenario runs end to end without any scripting.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import uvicorn

Endpoint = Literal["chat", "embeddings"]

_CHAT_PATHS = {"/v1/chat/completions", "/api/v1/chat/completions", "/chat/completions"}
_EMBEDDING_PATHS = {"/v1/embeddings", "/api/v1/embeddings", "/embeddings"}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. ``text`` wins over ``json``; a status other than 200 sends an OpenAI error body;
    ``body`` replaces the whole response body."""

    text: str | None = None
    json: Any = None
    status: int = 200
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    finish_reason: str = "stop"
    # (prompt_tokens, completion_tokens); default: word counts, which are deterministic and easy to predict.
    usage: tuple[int, int] | None = None
    # The model the answer claims to come from (OpenRouter reports the routed one); default: the requested one.
    model: str | None = None
    # A JSON body sent as it is instead of a completion: malformed answers, OpenRouter's 200-with-an-error.
    body: Any = None


def error(status: int, message: str | None = None, *, retry_after: float | None = None) -> Reply:
    """An HTTP error answer; ``retry_after`` (seconds, may be fractional — the openai SDK accepts that) is sent
    as ``Retry-After`` so tests of back-off stay fast."""
    headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
    return Reply(status=status, error=message, headers=headers)


def delayed(seconds: float, reply: Reply | str | dict[str, Any] | None = None) -> Reply:
    """``reply`` (default: the default answer) sent after ``seconds`` — for timeout tests."""
    return replace(_as_reply(reply) if reply is not None else Reply(), delay=seconds)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request exactly as it arrived: path, headers (lower-case names) and the decoded JSON body."""

    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    received_at: float  # time.monotonic() in the server, to measure back-off between attempts

    @property
    def endpoint(self) -> Endpoint:
        return "embeddings" if self.path in _EMBEDDING_PATHS else "chat"

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def max_tokens(self) -> int | None:
        """The output limit under whichever name the client used (langchain-openai: max_completion_tokens)."""
        return self.body.get("max_completion_tokens", self.body.get("max_tokens"))

    @property
    def temperature(self) -> float | None:
        return self.body.get("temperature")

    @property
    def response_format(self) -> dict[str, Any] | None:
        return self.body.get("response_format")

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _text_of(message.get("content"))
        return ""

    @property
    def inputs(self) -> list[str]:
        """Embedding inputs as a list (the API accepts one string or a list)."""
        value = self.body.get("input")
        return [value] if isinstance(value, str) else list(value or [])


Scripted = Reply | str | dict[str, Any]
Handler = Callable[[RecordedRequest], Scripted | None]


def _as_reply(value: Scripted) -> Reply:
    if isinstance(value, Reply):
        return value
    if isinstance(value, str):
        return Reply(text=value)
    if isinstance(value, dict):
        return Reply(json=value)
    raise TypeError(f"cannot script a reply from {type(value).__name__}")


def _text_of(content: Any) -> str:
    """Message content is a string or a list of parts ({type: text, text}); tests only need the text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _count_tokens(text: str) -> int:
    return max(1, len(text.split()))


def embedding(text: str, dim: int) -> list[float]:
    """The server's vector for ``text``: unit length, the same in every process (seeded by SHA-256, not hash())."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dim)
    return (vector / np.linalg.norm(vector)).astype(np.float32).tolist()


def example_of(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> Any:
    """The smallest value that satisfies a JSON schema of the kind structured output uses (objects, enums,
    anyOf, $ref into $defs) — the default answer when a test asked for structure but scripted nothing."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if ref := schema.get("$ref"):
        return example_of(defs[ref.rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            if any(option.get("type") == "null" for option in schema[key]):
                return None  # an Optional field: null is the smallest answer
            return example_of(schema[key][0], defs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example_of(props[name], defs) for name in schema.get("required", props)}
    if kind == "array":
        return [example_of(schema["items"], defs) for _ in range(schema.get("minItems", 0))]
    return {"string": "", "integer": 0, "number": 0.0, "boolean": False, "null": None}.get(kind)


class LLMServer:
    """The server in a daemon thread of the test process; state is shared with the test under one lock."""

    def __init__(self, *, embedding_dim: int = 64) -> None:
        self.default_embedding_dim = embedding_dim
        self.embedding_dim = embedding_dim
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queues: dict[Endpoint, deque[Reply]] = {"chat": deque(), "embeddings": deque()}
        self._handler: Handler | None = None
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Bound here and handed to uvicorn, so the port is ours before the thread starts (no free-port race).
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            interface="asgi3",  # a bound method defeats uvicorn's guess of the interface
            lifespan="off",
            log_level="warning",
            access_log=False,
            loop="asyncio",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="llm-test-server", daemon=True
        )

    # ---- for tests -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (``…/v1``), what LLM_BASE_URL / EMBEDDINGS_BASE_URL are set to."""
        return f"{self.url}/v1"

    @property
    def openrouter_base_url(self) -> str:
        """OpenRouter-style base URL (``…/api/v1``)."""
        return f"{self.url}/api/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last reset, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, endpoint: Endpoint) -> list[RecordedRequest]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def script(self, *replies: Scripted | Handler, endpoint: Endpoint = "chat") -> None:
        """Queue replies for ``endpoint`` (a str is text, a dict is a JSON answer, a Reply is anything), or
        install a handler function ``(request) -> reply | None`` for every endpoint (None: the default)."""
        with self._lock:
            for reply in replies:
                if callable(reply) and not isinstance(reply, Reply):
                    self._handler = reply
                else:
                    self._queues[endpoint].append(_as_reply(reply))

    @property
    def pending(self) -> int:
        """Queued replies not consumed yet."""
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            for queue in self._queues.values():
                queue.clear()
            self._handler = None
            self.embedding_dim = self.default_embedding_dim

    def start(self) -> LLMServer:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the LLM test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._closing.set()  # wakes handlers sleeping on a scripted delay
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()

    def __enter__(self) -> LLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the ASGI app --------------------------------------------------------------------------------

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path, method = scope["path"], scope["method"]
        if method != "POST" or path not in _CHAT_PATHS | _EMBEDDING_PATHS:
            await _respond(send, 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})
            return
        try:
            payload = json.loads(body or b"null")
            if not isinstance(payload, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as exc:
            await _respond(send, 400, {"error": {"message": f"invalid JSON body: {exc}", "type": "invalid_json"}})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request = RecordedRequest(path=path, headers=headers, body=payload, received_at=time.monotonic())
        # Recorded and its reply chosen on arrival, before any delay: a request that a test abandoned (timeout)
        # must not consume the script of the test that runs next.
        reply = self._next_reply(request)
        if reply.delay and await self._sleep(reply.delay):
            return
        if reply.status != 200:
            message = reply.error or f"scripted HTTP {reply.status}"
            err = {"message": message, "type": _ERROR_TYPES.get(reply.status, "server_error"), "code": reply.status}
            await _respond(send, reply.status, {"error": err}, reply.headers)
        elif reply.body is not None:
            await _respond(send, 200, reply.body, reply.headers)
        elif request.endpoint == "embeddings":
            await _respond(send, 200, self._embeddings(request), reply.headers)
        else:
            await _respond(send, 200, self._completion(request, reply), reply.headers)

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            queue = self._queues[request.endpoint]
            if queue:
                return queue.popleft()
            handler = self._handler
        if handler is not None and (scripted := handler(request)) is not None:
            return _as_reply(scripted)
        return Reply()

    async def _sleep(self, seconds: float) -> bool:
        """Sleeps in short steps so stopping the server is never held up by a long scripted delay; True when
        the server is closing."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._closing.is_set():
                return True
            await asyncio.sleep(min(left, 0.05))
        return self._closing.is_set()

    def _completion(self, request: RecordedRequest, reply: Reply) -> dict[str, Any]:
        if reply.text is not None:
            content = reply.text
        elif reply.json is not None:
            content = json.dumps(reply.json, ensure_ascii=False)
        elif (fmt := request.response_format) and fmt.get("type") == "json_schema":
            content = json.dumps(example_of(fmt["json_schema"]["schema"]), ensure_ascii=False)
        elif fmt and fmt.get("type") == "json_object":
            content = "{}"
        else:
            content = f"echo: {request.last_user_text}"
        prompt = sum(_count_tokens(_text_of(m.get("content"))) for m in request.messages)
        prompt_tokens, completion_tokens = reply.usage or (prompt, _count_tokens(content))
        return {
            "id": f"chatcmpl-test-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or request.model or "test-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _embeddings(self, request: RecordedRequest) -> dict[str, Any]:
        dim = int(request.body.get("dimensions") or self.embedding_dim)
        as_base64 = request.body.get("encoding_format") == "base64"  # the openai SDK's default
        data = []
        for index, text in enumerate(request.inputs):
            vector: Any = embedding(text, dim)
            if as_base64:
                vector = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(_count_tokens(text) for text in request.inputs)
        return {
            "object": "list",
            "data": data,
            "model": request.model or "test-embeddings",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


async def _respond(send: Any, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
