"""Fixtures for the crypto tests: shared vectors, and a tiny static server + Chromium for vault.js.

The browser harness serves, from 127.0.0.1 (a secure context, so ``crypto.subtle`` exists):
``/js/*`` from ``rolecall/web/static/js``, ``/vectors/*`` from ``tests/vectors``,
``/wordlist/english.txt`` from the installed ``mnemonic`` package (the same file the app will
serve), and ``/`` a blank page that imports the modules and exposes them on ``window``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import mnemonic
import pytest

from rolecall.crypto import Binding

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
STATIC_JS = ROOT / "rolecall" / "web" / "static" / "js"
WORDLIST = Path(mnemonic.__file__).resolve().parent / "wordlist" / "english.txt"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

INDEX_HTML = b"""<!doctype html><meta charset="utf-8"><title>vault tests</title>
<script type="module">
import * as vault from "/js/vault.js";
import * as bip39 from "/js/bip39.js";
import * as keystore from "/js/keystore.js";
Object.assign(window, { vault, bip39, keystore });
window.wordlist = await bip39.loadWordlist("/wordlist/english.txt");
window.vectors = {
  e2e: await (await fetch("/vectors/rc1_e2e.json")).json(),
  bip39: await (await fetch("/vectors/bip39_english.json")).json(),
};
window.ready = true;
</script>
"""


def load_vectors(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def e2e_vectors() -> dict[str, Any]:
    return load_vectors("rc1_e2e.json")


@pytest.fixture(scope="session")
def srv_vectors() -> dict[str, Any]:
    return load_vectors("rc1_srv.json")


@pytest.fixture(scope="session")
def bip39_vectors() -> list[list[str]]:
    return load_vectors("bip39_english.json")["english"]


def binding_from(ctx: dict[str, str]) -> Binding:
    return Binding(ctx["user_id"], ctx["config_id"], ctx["provider_id"], ctx["dest_origin"])


@pytest.fixture(name="binding_from")
def binding_from_fixture() -> Callable[[dict[str, str]], Binding]:
    """Turn a vector's ``context`` object into a :class:`Binding`."""
    return binding_from


@pytest.fixture
def binding() -> Binding:
    return Binding("a1b2c3d4e5f6a7b8c9d0e1f2", "123e4567-e89b-42d3-a456-426614174000", "openai", "https://api.openai.com")


# ---- browser harness ----------------------------------------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    ROUTES: ClassVar[dict[str, Path]] = {"/js/": STATIC_JS, "/vectors/": VECTORS}
    TYPES: ClassVar[dict[str, str]] = {".js": "text/javascript", ".json": "application/json", ".txt": "text/plain; charset=utf-8"}

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            return self._send(INDEX_HTML, "text/html; charset=utf-8")
        if path == "/wordlist/english.txt":
            return self._send(WORDLIST.read_bytes(), self.TYPES[".txt"])
        for prefix, folder in self.ROUTES.items():
            name = path[len(prefix):]
            if path.startswith(prefix) and "/" not in name and (folder / name).is_file():
                return self._send((folder / name).read_bytes(), self.TYPES.get(Path(name).suffix, "application/octet-stream"))
        self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="session")
def static_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(VECTORS)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    # Module scope: Playwright's sync API keeps its own event loop alive while it is open, so it is
    # closed again before any other module's asyncio tests run.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any, static_url: str) -> Iterator[Any]:
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(static_url + "/")
        page.wait_for_function("window.ready === true", timeout=15_000)
        yield page
        assert not errors, errors
    finally:
        context.close()
