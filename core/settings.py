"""Process settings, read once from the environment (and an optional `.env`).

Every field is documented where it is declared; `avibot --help` and the README point here. A value that is
present but malformed stops the program at start with a message naming the variable — it is far cheaper to
read "PORT must be an integer" than to debug a half-started server.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str | None = field(
        default=None,
        metadata={
            "env": "DATABASE_URL",
            "doc": "PostgreSQL (with pgvector) URL. Unset: embedded PostgreSQL.",
        },
    )
    redis_url: str | None = field(
        default=None, metadata={"env": "REDIS_URL", "doc": "Redis/Valkey URL. Unset: embedded Valkey."}
    )
    ray_address: str | None = field(
        default=None, metadata={"env": "RAY_ADDRESS", "doc": "Ray cluster to join. Unset: a local Ray."}
    )
    openrouter_api_key: str | None = field(
        default=None,
        metadata={"env": "OPENROUTER_API_KEY", "doc": "LLM key. Unset: the offline engine answers."},
    )
    llm_base_url: str = field(
        default="https://openrouter.ai/api/v1",
        metadata={"env": "LLM_BASE_URL", "doc": "Any OpenAI-compatible chat endpoint."},
    )
    embeddings_base_url: str | None = field(
        default=None,
        metadata={
            "env": "EMBEDDINGS_BASE_URL",
            "doc": "OpenAI-compatible /embeddings. Unset: local embedder.",
        },
    )
    embeddings_model: str | None = field(
        default=None, metadata={"env": "EMBEDDINGS_MODEL", "doc": "Model id for EMBEDDINGS_BASE_URL."}
    )
    embeddings_api_key: str | None = field(
        default=None, metadata={"env": "EMBEDDINGS_API_KEY", "doc": "Key for EMBEDDINGS_BASE_URL."}
    )
    public_url: str | None = field(
        default=None,
        metadata={"env": "PUBLIC_URL", "doc": "Where Avito reaches us (webhooks). Unset: http://HOST:PORT."},
    )
    secret_key: str | None = field(
        default=None,
        metadata={
            "env": "SECRET_KEY",
            "doc": "Encrypts account credentials and signs sessions; ≥ 32 characters. "
            "Unset: one is generated once and kept in DATA_DIR/secret_key.",
        },
    )
    data_dir: Path = field(
        default=Path("./.data"),
        metadata={"env": "DATA_DIR", "doc": "Embedded databases, generated keys and run files."},
    )
    host: str = field(default="127.0.0.1", metadata={"env": "HOST", "doc": "Address the web app listens on."})
    port: int = field(default=8000, metadata={"env": "PORT", "doc": "Port the web app listens on."})
    sandbox_port: int = field(
        default=0,
        metadata={
            "env": "SANDBOX_PORT",
            "doc": "Port of the Avito sandbox `avibot up` starts when no real account is connected. 0: any free one.",
        },
    )
    demo_buyers_per_minute: float = field(
        default=4.0,
        metadata={
            "env": "DEMO_BUYERS_PER_MINUTE",
            "doc": "How many messages the sandbox's simulated buyers write a minute (0: none).",
        },
    )

    @property
    def base_url(self) -> str:
        """The URL that browsers and Avito use to reach the app."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def secret(self) -> str:
        """SECRET_KEY, or the one generated for this DATA_DIR on first use (kept so encrypted data survives)."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


def describe() -> list[tuple[str, str]]:
    """(variable, documentation) for every setting, in declaration order."""
    return [(f.metadata["env"], f.metadata["doc"]) for f in fields(Settings)]


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise ConfigError(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}; got {value!r}."
        )
    if parts.scheme not in ("unix",) and not parts.hostname:
        raise ConfigError(f"{name} has no host name: {value!r}.")
    try:
        parts.port  # noqa: B018 — property raises on a malformed port
    except ValueError:
        raise ConfigError(f"{name} has an invalid port: {value!r}.") from None
    return value


def _check_data_dir(value: str) -> Path:
    path = Path(value).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"DATA_DIR {str(path)!r} cannot be written ({exc.strerror}). "
            "Point DATA_DIR at a directory this user may write to."
        ) from None
    return path.resolve()


def from_environ(environ: dict[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
    """Builds Settings from `environ` (default: os.environ) over an optional .env file; raises ConfigError."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = values.get(name, "").strip()
        return value or None

    kwargs: dict[str, object] = {}
    for name, key, schemes in (
        ("DATABASE_URL", "database_url", ("postgres", "postgresql")),
        ("REDIS_URL", "redis_url", ("redis", "rediss", "unix", "valkey")),
        ("LLM_BASE_URL", "llm_base_url", ("http", "https")),
        ("EMBEDDINGS_BASE_URL", "embeddings_base_url", ("http", "https")),
        ("PUBLIC_URL", "public_url", ("http", "https")),
    ):
        if (value := get(name)) is not None:
            kwargs[key] = _check_url(name, value, schemes)
    if (value := get("RAY_ADDRESS")) is not None:
        kwargs["ray_address"] = value
    for name, key in (
        ("OPENROUTER_API_KEY", "openrouter_api_key"),
        ("EMBEDDINGS_MODEL", "embeddings_model"),
        ("EMBEDDINGS_API_KEY", "embeddings_api_key"),
    ):
        kwargs[key] = get(name)
    if kwargs.get("embeddings_base_url") and not kwargs.get("embeddings_model"):
        raise ConfigError("EMBEDDINGS_BASE_URL is set but EMBEDDINGS_MODEL is not: name the embeddings model.")
    if (value := get("SECRET_KEY")) is not None:
        if len(value) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long (try: openssl rand -hex 32).")
        kwargs["secret_key"] = value
    if (value := get("HOST")) is not None:
        kwargs["host"] = value
    if (value := get("PORT")) is not None:
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ConfigError(f"PORT must be an integer between 1 and 65535; got {value!r}.")
        kwargs["port"] = int(value)
    if (value := get("SANDBOX_PORT")) is not None:
        if not value.isdigit() or not 0 <= int(value) < 65536:
            raise ConfigError(f"SANDBOX_PORT must be an integer between 0 and 65535; got {value!r}.")
        kwargs["sandbox_port"] = int(value)
    if (value := get("DEMO_BUYERS_PER_MINUTE")) is not None:
        try:
            kwargs["demo_buyers_per_minute"] = float(value)
        except ValueError:
            raise ConfigError(f"DEMO_BUYERS_PER_MINUTE must be a number, e.g. 4; got {value!r}.") from None
        if not 0 <= kwargs["demo_buyers_per_minute"] <= 6000:  # type: ignore[operator]
            raise ConfigError("DEMO_BUYERS_PER_MINUTE must be between 0 and 6000.")
    kwargs["data_dir"] = _check_data_dir(get("DATA_DIR") or "./.data")
    return Settings(**kwargs)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return from_environ()
