"""Fixtures for the browser tests: one `avibot up` per module on its own DATA_DIR, connected to an external Avito
sandbox (as a real deployment would be), and Debian's chromium driven by Playwright.

The browser is never downloaded: Playwright drives /usr/bin/chromium (apt-get install chromium).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from core.embedded import free_port
from tests.integration.test_cli import Up, env_for
from tests.integration.test_crash import ExternalSandbox

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
UI_DIST = Path(__file__).resolve().parents[2] / "ui" / "dist" / "index.html"

# Records what the page does with sound and notifications, without any hook in the product: every play() of a
# media element, every `new Notification(…)` (the last one kept, so a test can click it), and a way to make
# the page believe it is hidden (a background tab), which headless chromium never is by itself.
RECORDER = """
(() => {
  const record = { sounds: [], notifications: [], last: null };
  window.__e2e = record;
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    record.sounds.push({ src: this.currentSrc || this.src, volume: this.volume });
    return play.call(this);
  };
  const Native = window.Notification;
  if (Native) {
    function Recorded(title, options) {
      record.notifications.push({ title, body: options && options.body, tag: options && options.tag });
      const shown = new Native(title, options);
      record.last = shown;
      return shown;
    }
    Recorded.prototype = Native.prototype;
    Object.defineProperty(Recorded, "permission", { get: () => Native.permission });
    Recorded.requestPermission = (...args) => Native.requestPermission(...args);
    window.Notification = Recorded;
  }
  record.hide = (hidden) => {
    if (hidden) {
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    } else {
      delete document.visibilityState;
      delete document.hidden;
    }
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""


@dataclass
class Avibot:
    url: str
    password: str
    sandbox: ExternalSandbox
    shops: list[dict]  # the sandbox's accounts: user_id, name, client_id…


@pytest.fixture(scope="module")
def avibot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Avibot]:
    if not UI_DIST.exists():
        pytest.fail("ui/dist is not built: run `cd ui && npm ci && npm run build` (make test does it)")
    root = tmp_path_factory.mktemp("e2e")
    sandbox = ExternalSandbox(free_port(), root / "sandbox.log")
    up: Up | None = None
    try:
        data_dir, port = root / "data", free_port()
        env = env_for(data_dir, PORT=str(port))
        shops = sandbox.connect(env)
        up = Up(data_dir, port)
        up.wait_healthy(180)
        up.wait_output("avibot is running at", timeout=30)
        password = (data_dir / "initial-admin-password").read_text().split()[1]
        yield Avibot(up.url, password, sandbox, shops)
    finally:
        if up is not None:
            up.proc.send_signal(signal.SIGINT)
            try:
                up.proc.wait(60)
            except Exception:
                up.proc.kill()
        sandbox.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


def wait_for(check: Callable[[], T | None], timeout: float = 10, every: float = 0.1, what: str = "condition") -> T:
    """Polls `check()` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        if value := check():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def api_session(avibot: Avibot) -> httpx.Client:
    """An httpx client logged in as the admin, with the CSRF header set: to arrange what a test needs."""
    client = httpx.Client(base_url=avibot.url, timeout=15)
    answer = client.post("/api/v1/auth/login", json={"login": "admin", "password": avibot.password})
    answer.raise_for_status()
    client.headers["x-csrf-token"] = answer.json()["csrf_token"]
    return client
