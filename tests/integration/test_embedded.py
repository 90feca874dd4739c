"""The embedded servers: data kept across restarts, crashes recovered, nothing left running."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from redis import Redis
from redis.exceptions import AuthenticationError, ResponseError

from core.embedded import EmbeddedPostgres, EmbeddedValkey

pytestmark = pytest.mark.integration


def psql(server: EmbeddedPostgres, sql: str) -> str:
    result = subprocess.run(
        [str(server.bin / "psql"), server.url(), "-Atc", sql], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def postgres_running_on(pgdata: Path) -> bool:
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or []):
            return True
    return False


def test_postgres_keeps_data_and_recovers_a_stale_pid_file(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    server.start()
    assert psql(server, "SHOW server_version").startswith("18")
    assert psql(server, "SELECT to_tsvector('russian', 'велосипеды')") == "'велосипед':1"
    psql(server, "CREATE EXTENSION vector; CREATE TABLE kept (v vector(2)); INSERT INTO kept VALUES ('[1,2]')")
    server.stop()
    assert not postgres_running_on(server.pgdata)

    # A pid file left by a crash, naming a live process that is not PostgreSQL (pid reuse).
    (server.pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{server.pgdata}\n")
    again = EmbeddedPostgres(tmp_path)
    again.start()
    try:
        assert psql(again, "SELECT v FROM kept") == "[1,2]"
    finally:
        again.stop()


OWNER_SCRIPT = """
import sys, time
from pathlib import Path
from core.embedded import EmbeddedPostgres
server = EmbeddedPostgres(Path(sys.argv[1]))
print(server.start(), flush=True)
time.sleep(600)
"""


def test_server_dies_with_its_killed_owner_and_restarts(tmp_path: Path) -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().startswith("postgresql://")
        pgdata = tmp_path / "pg"
        assert postgres_running_on(pgdata)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 30
        while postgres_running_on(pgdata) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not postgres_running_on(pgdata), "PostgreSQL outlived its killed owner"
    finally:
        owner.kill()
        owner.wait(10)
        if owner.stdout is not None:
            owner.stdout.close()
    server = EmbeddedPostgres(tmp_path)
    server.start()
    try:
        assert psql(server, "SELECT 1") == "1"
    finally:
        server.stop()


def test_valkey_requires_its_password(tmp_path: Path) -> None:
    server = EmbeddedValkey(tmp_path)
    url = server.start()
    try:
        client = Redis.from_url(url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
        anonymous = Redis(host="127.0.0.1", port=server.port)
        with pytest.raises((AuthenticationError, ResponseError)):
            anonymous.get("k")
        anonymous.close()
    finally:
        server.stop()
    assert server._process is None
