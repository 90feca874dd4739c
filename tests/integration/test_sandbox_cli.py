"""`avibot sandbox` as a user runs it: a real process on a free port, its printed credentials, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.embedded import free_port

pytestmark = [pytest.mark.integration]

AVIBOT = [sys.executable, "-m", "core.cli"]
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_ADD = re.compile(
    r"avibot account add --client-id (\S+) --client-secret (\S+) --api-url (http://127\.0\.0\.1:\d+)$", re.M
)


def test_sandbox_command_serves_the_accounts_it_prints_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "sandbox.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [*AVIBOT, "sandbox", "--port", str(port), "--accounts", "3", "--seed", "7"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(ACCOUNT_ADD.findall(output := log_path.read_text())) < 3:
            assert proc.poll() is None, f"avibot sandbox exited early:\n{output}"
            assert time.monotonic() < deadline, f"no banner within 60 s:\n{output}"
            time.sleep(0.05)
        assert f"Avito sandbox at {url} with 3 account(s)" in output
        printed = ACCOUNT_ADD.findall(output)
        assert {api_url for _, _, api_url in printed} == {url}

        with httpx.Client(base_url=url, timeout=5) as client:
            accounts = client.get("/sandbox/accounts").json()
            assert len(accounts) == 3
            assert len({a["name"] for a in accounts}) == 3
            assert [(a["client_id"], a["client_secret"]) for a in accounts] == [(c, s) for c, s, _ in printed]
            for account, (client_id, client_secret, _) in zip(accounts, printed, strict=True):
                assert f"{account['user_id']}  «{account['name']}»" in output
                assert account["items"] and account["chats"]
                grant = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
                token = client.post("/token", data=grant)
                assert token.status_code == 200, token.text
                me = client.get(
                    "/core/v1/accounts/self", headers={"authorization": f"Bearer {token.json()['access_token']}"}
                )
                assert me.status_code == 200 and me.json()["id"] == account["user_id"]
            wrong = {"grant_type": "client_credentials", "client_id": printed[2][0], "client_secret": "nope"}
            assert client.post("/token", data=wrong).status_code == 400
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0, log_path.read_text()
    assert "Traceback" not in log_path.read_text()


def test_sandbox_command_refuses_a_non_loopback_host_without_allow_remote() -> None:
    result = subprocess.run(
        [*AVIBOT, "sandbox", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


def test_sandbox_help_documents_every_option() -> None:
    result = subprocess.run([*AVIBOT, "sandbox", "--help"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0
    for option in (
        "--host", "--allow-remote", "--port", "--accounts", "--simulator-rate", "--token-ttl", "--rate-limit",
        "--duplicates", "--webhook-delay", "--seed",
    ):  # fmt: skip
        assert option in result.stdout
