"""What the live-path benchmarks (ingest.py, turn_latency.py, sessions.py) share: embedded PostgreSQL and Valkey
in a temporary directory, the app served in its own process by `live_stack/server.py` (so the load generator
and the Avito sandbox never share its interpreter), a raw HTTP/1.1 keep-alive client cheap enough not to steal
the server's CPU on a small machine, percentiles, and CPU/RSS accounting of process trees with psutil.

This package is not a benchmark itself (``make bench`` runs only ``benchmarks/*.py``).
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).resolve().parent / "server.py"
SECRET_KEY = "bench-secret-key-" + "k" * 40


def revision() -> dict[str, Any]:
    """The commit measured, and the files that differed from it (other work in the tree at the time)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.rstrip("\n")

    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "modified_files": dirty}


# --- numbers ----------------------------------------------------------------------------------------------------


def percentiles(seconds: list[float]) -> dict[str, float | int]:
    """p50/p90/p99/max/mean in milliseconds (nearest-rank), and the count."""
    if not seconds:
        return {"n": 0}
    ordered = sorted(seconds)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]

    return {
        "n": len(ordered),
        "p50_ms": round(rank(50) * 1000, 2),
        "p90_ms": round(rank(90) * 1000, 2),
        "p99_ms": round(rank(99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 2),
    }


# --- processes ----------------------------------------------------------------------------------------------------


def listening_pid(port: int) -> int:
    """The process that listens on a loopback TCP port (PostgreSQL's postmaster, Valkey)."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return conn.pid
    raise RuntimeError(f"nothing listens on port {port}")


def tree(pid: int) -> list[psutil.Process]:
    """A process and all its descendants that are still alive."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(processes: Iterable[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + getattr(times, "irq", 0) + getattr(times, "softirq", 0)


def _title(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline()) or proc.name()
    except psutil.Error:
        return ""


def app_groups(app_pid: int) -> dict[str, list[psutil.Process]]:
    """The app process and what it started, by role: its Ray actors by class (Ray titles a worker process
    ``ray::ClassName``), Ray's idle pooled workers, and Ray's own daemons (GCS, raylet, agents, log monitor)."""
    groups: dict[str, list[psutil.Process]] = {"app": [], "session_hosts": [], "account_actors": [],
                                               "ray_idle_workers": [], "ray_system": []}  # fmt: skip
    for proc in tree(app_pid):
        title = _title(proc)
        if proc.pid == app_pid:
            groups["app"].append(proc)
        elif title.startswith("ray::SessionHostActor"):
            groups["session_hosts"].append(proc)
        elif title.startswith("ray::AccountActor"):
            groups["account_actors"].append(proc)
        elif title.startswith("ray::IDLE"):
            groups["ray_idle_workers"].append(proc)
        else:
            groups["ray_system"].append(proc)
    return {name: procs for name, procs in groups.items() if procs or name == "app"}


class CpuMeter:
    """CPU used by groups of processes between `start` and `stop`, in cores (1.0 = one core busy throughout).
    ``groups`` is called at both ends, so processes born in between (PostgreSQL backends, Ray workers) count
    with their whole life. ``machine`` is all cores' busy time and ``others`` what processes outside the groups
    used — on a shared machine, the load this run did not make."""

    def __init__(self, groups: Callable[[], dict[str, list[psutil.Process]]]) -> None:
        self.groups = groups
        self._before: dict[int, float] = {}
        self._t0 = 0.0
        self._machine0 = 0.0

    @staticmethod
    def _times(groups: dict[str, list[psutil.Process]]) -> dict[str, dict[int, float]]:
        return {name: {p.pid: cpu_seconds([p]) for p in procs} for name, procs in groups.items()}

    def start(self) -> None:
        self._before = {pid: t for procs in self._times(self.groups()).values() for pid, t in procs.items()}
        self._machine0 = machine_busy_seconds()
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        after = self._times(self.groups())
        machine = machine_busy_seconds() - self._machine0
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        used = {
            name: round(sum(t - self._before.get(pid, 0.0) for pid, t in procs.items()) / elapsed, 2)
            for name, procs in after.items()
        }
        mine = sum(used.values())
        used["machine"] = round(machine / elapsed, 2)
        used["others"] = round(max(0.0, machine / elapsed - mine), 2)
        return used


def role(proc: psutil.Process) -> str:
    """A short name for what a process is: a Ray actor's class, a Python program's script, a PostgreSQL
    process's role (every client connection is one "client backend"), else the executable."""
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return "?"
    title = " ".join(cmdline).strip()
    if title.startswith("ray::"):
        return title.split()[0]
    if title.startswith("postgres:"):
        return "postgres: client backend" if "127.0.0.1(" in title else title
    if cmdline and os.path.basename(cmdline[0]).startswith("python"):
        script = next((a for a in cmdline[1:] if a.endswith(".py")), None)
        return os.path.basename(script) if script else title[:60]
    return os.path.basename(cmdline[0]) if cmdline else proc.name()


def memory(groups: dict[str, list[psutil.Process]]) -> dict[str, dict[str, Any]]:
    """Per group: process count, RSS (shared pages counted in every process that maps them), PSS (shared pages
    divided among their sharers — the sum over all processes is what the machine really holds) and USS (pages
    only that process has), in MiB; and the same by process role (see `role`)."""
    mib = 1024 * 1024
    report: dict[str, dict[str, Any]] = {}
    for name, procs in groups.items():
        totals = {"processes": 0, "rss_mib": 0.0, "pss_mib": 0.0, "uss_mib": 0.0}
        roles: dict[str, dict[str, float]] = {}
        for proc in procs:
            try:
                full = proc.memory_full_info()
            except psutil.Error:
                continue
            sizes = {"rss_mib": full.rss / mib, "pss_mib": getattr(full, "pss", 0) / mib, "uss_mib": full.uss / mib}
            for bucket in (totals, roles.setdefault(role(proc), {"processes": 0, **dict.fromkeys(sizes, 0.0)})):
                bucket["processes"] += 1
                for key, value in sizes.items():
                    bucket[key] += value
        rounded = {k: round(v, 1) if isinstance(v, float) else v for k, v in totals.items()}
        rounded["by_role"] = {r: {k: round(v, 1) if k != "processes" else int(v) for k, v in sizes_.items()}
                              for r, sizes_ in roles.items()}  # fmt: skip
        report[name] = rounded
    return report


class Services:
    """Embedded PostgreSQL and Valkey in ``root``, as `avibot up` runs them."""

    def __init__(self, root: Path) -> None:
        from core.embedded import EmbeddedPostgres, EmbeddedValkey

        self.postgres = EmbeddedPostgres(root / "postgres")
        self.valkey = EmbeddedValkey(root / "valkey")
        self.database_url = ""
        self.redis_url = ""

    def __enter__(self) -> Services:
        self.database_url = self.postgres.start()
        try:
            self.redis_url = self.valkey.start()
        except BaseException:
            self.postgres.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.valkey.stop()
        self.postgres.stop()

    def groups(self) -> dict[str, list[psutil.Process]]:
        """PostgreSQL (the postmaster and every backend and helper) and Valkey."""
        return {"postgres": tree(self.postgres_pid), "valkey": tree(self.valkey_pid)}

    @property
    def postgres_pid(self) -> int:
        assert self.postgres.port is not None
        return listening_pid(self.postgres.port)

    @property
    def valkey_pid(self) -> int:
        assert self.valkey.port is not None
        return listening_pid(self.valkey.port)


class AppProcess:
    """`live_stack/server.py` in a subprocess: the app (or the bare reference endpoint) on a loopback port."""

    def __init__(
        self,
        app: str,
        port: int,
        services: Services,
        data_dir: Path,
        *,
        hosts: int = 2,
        in_process: bool = False,
        loop: str = "uvloop",  # as `avibot up`
        start_timeout: float = 180.0,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.command = [
            sys.executable,
            str(SERVER),
            "--app", app, "--port", str(port), "--data-dir", str(data_dir),
            "--database-url", services.database_url, "--redis-url", services.redis_url,
            "--hosts", str(hosts), "--loop", loop, "--secret-key", SECRET_KEY,
        ]  # fmt: skip
        if in_process:
            self.command.append("--in-process")
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> AppProcess:
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        # The server prints one line when it accepts connections (or exits, with its error on stderr).
        ready, _, _ = select.select([self.process.stdout], [], [], self.start_timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("READY"):
            self.__exit__()
            raise RuntimeError(f"the app server did not start within {self.start_timeout:.0f} s: {line!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully, then the server stops its Ray
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            for proc in reversed(tree(process.pid)):
                proc.kill()
            process.wait(10)


# --- a raw HTTP/1.1 client --------------------------------------------------------------------------------------


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection, one request at a time; the requests are prebuilt bytes. Answers must carry a
    Content-Length (uvicorn's do). Costs a few microseconds per request, so it leaves the cores to the server."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        length = 0
        for line in bytes(self.buffer[:end]).split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        total = end + 4 + length
        if len(self.buffer) < total:
            return
        status = int(self.buffer[9:12])
        body = bytes(self.buffer[end + 4 : total])
        del self.buffer[:total]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None and self.waiter is None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_connections(port: int, count: int) -> list[HttpConnection]:
    loop = asyncio.get_running_loop()
    connections = []
    for _ in range(count):
        _, protocol = await loop.create_connection(HttpConnection, "127.0.0.1", port)
        connections.append(protocol)
    return connections


def post_bytes(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", "content-type: application/json"]
    head.append(f"content-length: {len(body)}")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def get_json(url: str, timeout: float = 30.0) -> Any:
    import httpx

    answer = httpx.get(url, timeout=timeout)
    answer.raise_for_status()
    return answer.json()
