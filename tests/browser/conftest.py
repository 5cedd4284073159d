"""A real `rolecall serve` on a free port, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

# CI machines are small and busy; a person would wait a few seconds too.
expect.set_options(timeout=15_000)

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
