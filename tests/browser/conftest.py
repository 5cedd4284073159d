"""A real `rolecall serve` on a free port, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.axe import axe_core_path
from tests.fakes.openai_compat import FakeOpenAI

# CI machines are small and busy; a person would wait a few seconds too.
expect.set_options(timeout=15_000)
PASSWORD = "a stage of one's own"
# Slow steps (key derivation, saving, a provider test) say when they finish through a `data-state`
# attribute on the page; tests wait for that signal. This bound only reports a step that hangs.
HUNG_STEP_MS = 180_000

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic",
]


def chromium_path() -> str:
    path = os.environ.get("ROLECALL_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Browser tests need Chromium: `apt-get install -y chromium` (or set ROLECALL_TEST_CHROMIUM).")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / "server.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rolecall", "serve", "--port", str(self.port), "--data-dir", str(data_dir)],
            stdout=self._log, stderr=subprocess.STDOUT, env=env,
        )

    def wait_ready(self, timeout: float = 60) -> float:  # busy CI boxes: migrations alone can take 20 s
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError("server exited:\n" + self.log())
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become ready:\n" + self.log())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def start_server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None, **extra_env: str) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") and k not in ("DATABASE_URL", "REDIS_URL")}
    if postgres_url:
        from tests.conftest import TEST_ENCRYPTION_KEYS

        env["DATABASE_URL"] = postgres_url
        env["ROLECALL_ENCRYPTION_KEYS"] = TEST_ENCRYPTION_KEYS
    env.update(extra_env)
    srv = Server(tmp_path_factory.mktemp("serve") / "data", env)
    try:
        srv.wait_ready()
    except BaseException:
        srv.stop()
        raise
    return srv


@pytest.fixture(scope="module", autouse=True)
def _empty_database_after_module(postgres_url: str | None) -> Iterator[None]:
    """Browser tests write through a real server, outside make_settings: clean up after them too."""
    yield
    if postgres_url:
        import asyncio

        from tests.conftest import _empty_postgres

        asyncio.run(_empty_postgres(postgres_url))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None) -> Iterator[Server]:
    srv = start_server(tmp_path_factory, postgres_url)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def loopback_server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None) -> Iterator[Server]:
    """A server allowed to reach 127.0.0.1, where the fake providers listen."""
    srv = start_server(tmp_path_factory, postgres_url, ROLECALL_NETWORK__ALLOW_PRIVATE='["127.0.0.0/8"]')
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    # Module scope: Playwright's sync API runs its own event loop while open.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    """One fake OpenAI-compatible upstream for a module's tests (``fake.reset()`` between tests)."""
    server = FakeOpenAI()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core, pinned and checked, from the npm registry into a local cache (never a CDN)."""
    return axe_core_path()


# ---- what every browser test does: sign up, set up encryption ---------------------------------

def sign_up(page: Page, server: Server, name: str, password: str = PASSWORD) -> None:
    page.goto(server.url + "/signup")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(server.url + "/scenes")


def settled(page: Page, selector: str) -> str:
    """Wait until `selector`'s data-state is set and not "working"; return it."""
    done = "(sel) => { const n = document.querySelector(sel); return !!n?.dataset.state && n.dataset.state !== 'working'; }"
    page.wait_for_function(done, arg=selector, timeout=HUNG_STEP_MS)
    return page.locator(selector).get_attribute("data-state") or ""


def page_says(page: Page) -> list[str]:
    """What the page's alerts and status lines say (for a failure message)."""
    return page.get_by_role("alert").all_inner_texts() + page.get_by_role("status").all_inner_texts()


def show_new_words(page: Page) -> list[str]:
    """Settings → API Keys: Set up encryption; returns the 12 words shown."""
    settled(page, "#encryption")
    page.get_by_role("button", name="Set up encryption").click()
    assert settled(page, "#encryption") == "show", page_says(page)
    return page.get_by_role("list", name="Your recovery phrase").locator("li").all_inner_texts()


def type_back(page: Page, words: list[str]) -> str:
    """Tick "written down", Continue, type the words back, Confirm; returns the card's final state."""
    page.get_by_label("I have written down all 12 words").check()
    page.get_by_role("button", name="Continue").click()
    for i, word in enumerate(words):
        page.get_by_label(f"Word {i + 1}", exact=True).fill(word)
    page.get_by_role("button", name="Confirm").click()
    return settled(page, "#encryption")


def set_up_encryption(page: Page) -> list[str]:
    """The whole recovery-phrase set-up on Settings → API Keys; returns the words."""
    words = show_new_words(page)
    if type_back(page, words) != "unlocked":
        raise AssertionError(f"encryption set-up did not finish; the page says {page_says(page)}")
    expect(page.get_by_test_id("encryption-status")).to_have_text("Active")
    return words


def new_account_with_encryption(page: Page, server: Server, name: str) -> list[str]:
    """Sign up as `name`, open Settings → API Keys and set up encryption; returns the words."""
    sign_up(page, server, name)
    page.goto(server.url + "/settings?tab=api-keys")
    return set_up_encryption(page)


def api_call(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call the JSON API with the page's session, as the page's own scripts would."""
    base = page.evaluate("location.origin")
    token = page.request.get(base + "/api/csrf").json()["csrf_token"]
    response = page.request.fetch(base + path, method=method, data=body, headers={"X-CSRF-Token": token})
    assert response.ok, response.text()
    return response.json() if response.status != 204 else {}


def add_tested_config(page: Page, label: str, provider_id: str, base_url: str, **extra: Any) -> dict[str, Any]:
    """A Server-Accessible config saved through the API after a passing Test (the fakes' valid key)."""
    from tests.fakes.server import VALID_KEY

    body = {"provider_id": provider_id, "base_url": base_url, "api_key": VALID_KEY, **extra}
    test = api_call(page, "POST", "/api/provider-configs/test", body)
    assert test["status"] == "valid", test
    return api_call(page, "POST", "/api/provider-configs",
                    {**body, "label": label, "privacy_mode": "srv", "test_id": test["test_id"]})


def encryption_set_up_by_api(page: Page) -> bytes:
    """An Active key record made by the Python reference (for tests about pages other than set-up);
    returns the UDK (the recovery phrase is `tests.factories.PHRASE`; this browser stays locked)."""
    from tests.factories import e2e_record

    record, udk = e2e_record(api_call(page, "GET", "/api/me")["id"])
    api_call(page, "POST", "/api/encryption/setup", record)
    return udk


def add_e2e_config(page: Page, udk: bytes, label: str, provider_id: str, base_url: str, api_key: str) -> str:
    """An End-to-End config sealed the way the browser seals it (the Python reference), then tested
    with the key handed over (which caches its model list); returns its id."""
    from rolecall.crypto import Binding, e2e

    account_id = api_call(page, "GET", "/api/me")["id"]
    where = {"provider_id": provider_id, "base_url": base_url}
    origin = api_call(page, "POST", "/api/provider-configs/resolve", where)["dest_origin"]
    config_id = str(uuid.uuid4())
    envelope = e2e.seal_bundle(udk, {"api_key": api_key}, 1, Binding(account_id, config_id, provider_id, origin))
    api_call(page, "POST", "/api/provider-configs",
             {**where, "id": config_id, "label": label, "privacy_mode": "e2e", "credential": envelope})
    test = api_call(page, "POST", f"/api/provider-configs/{config_id}/test", {"api_key": api_key})
    assert test["status"] == "valid", test
    return config_id


# ---- the scene page ------------------------------------------------------------------------------

def running_fakes(**fakes: Any) -> Iterator[SimpleNamespace]:
    """Start provider fakes for a module fixture (``yield from running_fakes(router=FakeOpenAI())``)."""
    servers = SimpleNamespace(**fakes)
    for fake in fakes.values():
        fake.start()
    try:
        yield servers
    finally:
        for fake in fakes.values():
            fake.stop()


def say(page: Page, text: str) -> None:
    """Type a line into the scene's composer and press Enter."""
    box = page.get_by_label("Your message", exact=True)
    box.fill(text)
    box.press("Enter")


def last_reply(page: Page) -> Locator:
    return page.locator('.msg[data-role="assistant"]').last
