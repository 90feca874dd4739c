"""Which PostgreSQL and Redis a command talks to, and who owns the embedded ones.

One process at a time owns a DATA_DIR's embedded servers: it holds an exclusive `flock` on
`DATA_DIR/avibot.lock` and describes its servers in `DATA_DIR/run.json`. The kernel drops the lock when the
owner dies, even by `kill -9`, so a stale lock can never block the next run. Everybody else reads run.json:
- `avibot up` while another `up` owns the directory stops with "already running";
- any other command (`migrate`, `user add`, ...) uses the running instance's servers;
- with no owner, a command starts the servers for its own run and stops them after.
External DATABASE_URL / REDIS_URL bypass all of this.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import psutil

from core.embedded import EmbeddedPostgres, EmbeddedValkey
from core.errors import AlreadyRunning, ServiceError
from core.settings import Settings

Role = Literal["up", "command"]


@dataclass(frozen=True, slots=True)
class Services:
    database_url: str
    redis_url: str
    ray_address: str | None = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What the owner of a DATA_DIR publishes in run.json."""

    pid: int
    role: Role
    database_url: str | None
    redis_url: str | None
    ray_address: str | None = None
    ray_session_dir: str | None = None
    http_url: str | None = None


def run_file(settings: Settings) -> Path:
    return settings.data_dir / "run.json"


def read_run_info(settings: Settings) -> RunInfo | None:
    try:
        return RunInfo(**json.loads(run_file(settings).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_run_info(settings: Settings, info: RunInfo) -> None:
    """Atomically replaces run.json (0600: it holds the embedded servers' passwords)."""
    path = run_file(settings)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(info), f)
    tmp.replace(path)


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def open_services(settings: Settings, role: Role, wait: float = 120.0) -> Iterator[Services]:
    """Yields the servers to use for this process's run; see the module docstring for who starts what."""
    if settings.database_url and settings.redis_url:
        yield Services(settings.database_url, settings.redis_url, settings.ray_address)
        return

    lock_path = settings.data_dir / "avibot.lock"
    deadline = time.monotonic() + wait
    while True:
        fd = _try_lock(lock_path)
        if fd is not None:
            break
        info = read_run_info(settings)
        if info is not None and info.role == "up":
            if role == "up":
                raise AlreadyRunning(
                    f"avibot is already running on DATA_DIR {settings.data_dir} (pid {info.pid}"
                    + (f", {info.http_url}" if info.http_url else "")
                    + "). Stop it first, or give this one another DATA_DIR."
                )
            yield Services(
                settings.database_url or _required(info.database_url),
                settings.redis_url or _required(info.redis_url),
                settings.ray_address or info.ray_address,
            )
            return
        # Another short command owns the servers, or an `up` is still starting: wait for it.
        if time.monotonic() > deadline:
            holder = f"pid {info.pid}" if info else "a process that is still starting"
            raise ServiceError(f"DATA_DIR {settings.data_dir} stays locked by {holder}; try again later.")
        time.sleep(0.2)

    stale = read_run_info(settings)  # we hold the lock, so whoever wrote this died without cleaning up
    if stale is not None and stale.ray_session_dir:
        reap_orphans(Path(stale.ray_session_dir))

    with ExitStack() as stack:
        stack.callback(os.close, fd)
        stack.callback(lambda: run_file(settings).unlink(missing_ok=True))
        database_url = settings.database_url
        if not database_url:
            postgres = EmbeddedPostgres(settings.data_dir)
            stack.callback(postgres.stop)
            database_url = postgres.start()
        redis_url = settings.redis_url
        if not redis_url:
            valkey = EmbeddedValkey(settings.data_dir)
            stack.callback(valkey.stop)
            redis_url = valkey.start()
        write_run_info(settings, RunInfo(os.getpid(), role, database_url, redis_url))
        yield Services(database_url, redis_url, settings.ray_address)


def reap_orphans(session_dir: Path) -> int:
    """Kills processes a killed run's local Ray left behind (its agents outlive a `kill -9` of the driver).

    They are recognised by the log files they hold open under that run's Ray session directory, which no
    live process of ours can share: the session directory is unique per run.
    """
    killed = 0
    for proc in psutil.process_iter(["name"]):
        try:
            if not (proc.info["name"] or "").startswith(("ray", "raylet", "gcs_server", "python")):
                continue
            if any(f.path.startswith(str(session_dir)) for f in proc.open_files()):
                proc.kill()
                killed += 1
        except psutil.Error:
            continue
    return killed


def _required(url: str | None) -> str:
    if url is None:
        raise ServiceError("The running avibot instance did not publish its service URLs; restart it.")
    return url
