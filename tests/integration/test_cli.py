"""`avibot` as a user runs it: real processes, real signals, a DATA_DIR of the test's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from core.embedded import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AVIBOT = [sys.executable, "-m", "core.cli"]
ROOT = Path(__file__).resolve().parents[2]


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "RAY_ADDRESS")}
    env.update({"DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


def run(
    args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AVIBOT, *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)  # fmt: skip


class Up:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.env = env_for(data_dir, PORT=str(port))
        self.url = f"http://127.0.0.1:{port}"
        self.log = data_dir.parent / f"up-{port}-{time.monotonic_ns()}.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([*AVIBOT, "up"], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def output(self) -> str:
        return self.log.read_text()

    def wait_output(self, text: str, timeout: float = 10) -> str:
        """The log once it holds `text` (the banner follows the first /healthz by a few milliseconds)."""
        deadline = time.monotonic() + timeout
        while text not in (output := self.output()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return output

    # Ray alone takes 15–35 s to start on 2 cores, and much longer when the machine is busy.
    def wait_healthy(self, timeout: float = 180) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"avibot up exited early:\n{self.output()}"
            try:
                response = httpx.get(f"{self.url}/healthz", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"/healthz not green within {timeout} s:\n{self.output()}")


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(data_dir / "pg") in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_up_survives_kill_minus_9_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Up(data_dir, free_port())
    try:
        assert first.wait_healthy()["status"] == "ok"
        banner = first.wait_output("First run: log in as «admin» with password")
        assert "First run: log in as «admin» with password" in banner
        assert "Loaded the demo knowledge base (65 articles)" in banner
        assert (data_dir / "initial-admin-password").read_text().startswith("admin ")

        # A second `up` on the same DATA_DIR refuses instead of corrupting it.
        second = run(["up"], env_for(data_dir, PORT=str(free_port())), timeout=60)
        assert second.returncode == 1 and "already running" in second.stderr

        # Commands use the running instance's servers; written data must survive kill -9.
        added = run(["user", "add", "olga", "--role", "operator"], first.env, stdin="password-olga\n")
        assert added.returncode == 0, added.stderr
        assert "Created operator «olga»" in added.stdout
    finally:
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)

    again = Up(data_dir, free_port())
    try:
        again.wait_healthy()
        again.wait_output("avibot is running at")
        assert "First run" not in again.output()  # the admin exists already
        assert "demo knowledge base" not in again.output()  # loaded once, never again
        duplicate = run(["user", "add", "olga", "--role", "operator"], again.env, stdin="password-olga\n")
        assert duplicate.returncode == 1 and "уже существует" in duplicate.stderr
        assert "Traceback" not in duplicate.stderr
    finally:
        again.proc.send_signal(signal.SIGINT)
        assert again.proc.wait(60) == 0, again.output()
    assert not postgres_processes(data_dir)
    assert not (data_dir / "run.json").exists()


def test_commands_start_and_stop_their_own_servers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = env_for(data_dir)
    result = run(["migrate"], env)
    assert result.returncode == 0, result.stderr
    latest = max((Path(__file__).resolve().parents[2] / "migrations").glob("[0-9]*.sql")).stem
    assert f"schema is at {latest}" in result.stdout
    assert run(["migrate"], env).stdout.startswith("Applied 0 migration(s)")
    added = run(["user", "add", "anna", "--role", "admin", "--name", "Анна"], env, stdin="password-anna\n")
    assert added.returncode == 0 and "Created admin «anna»" in added.stdout
    assert not postgres_processes(data_dir)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"DATABASE_URL": f"postgresql://avibot:x@127.0.0.1:{free_port()}/avibot"}, "Cannot connect to PostgreSQL"),
        ({"DATABASE_URL": "postgres//broken"}, "DATABASE_URL must be a URL"),
        ({"PORT": "http"}, "PORT must be an integer"),
    ],
)
def test_bad_configuration_is_one_clear_paragraph(tmp_path: Path, extra: dict[str, str], needle: str) -> None:
    for command in (["migrate"], ["up"]):
        result = run(command, env_for(tmp_path / "data", REDIS_URL="redis://127.0.0.1:1/0", **extra), timeout=60)
        assert result.returncode != 0
        assert needle in result.stderr
        assert "Traceback" not in result.stderr and "password" not in result.stderr.lower()


def test_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run(["migrate"], env_for(blocker / "data"))
    assert result.returncode == 2
    assert "DATA_DIR" in result.stderr and "cannot be written" in result.stderr and "Traceback" not in result.stderr


def test_help_on_every_command() -> None:
    for args in (["--help"], ["up", "--help"], ["migrate", "--help"], ["user", "add", "--help"]):
        result = run(args, env_for(Path("/tmp")))
        assert result.returncode == 0 and "Usage:" in result.stdout
    assert "DATABASE_URL" in run(["--help"], env_for(Path("/tmp"))).stdout
