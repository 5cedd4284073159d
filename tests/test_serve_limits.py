"""`rolecall serve` bounds the header block before the app runs (uvicorn's h11 limit)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data_dir: Path = tmp_path_factory.mktemp("serve") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") and k not in ("DATABASE_URL", "REDIS_URL")}
    process = subprocess.Popen([sys.executable, "-m", "rolecall", "serve", "--port", str(port), "--data-dir", str(data_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def _status_line(port: int, headers: int) -> bytes:
    block = "".join(f"x-h{n}: {'v' * 20}\r\n" for n in range(headers))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n{block}\r\n".encode())
        return s.recv(65536).split(b"\r\n", 1)[0]


def test_ten_thousand_headers_are_refused_by_the_server(server: int) -> None:
    assert _status_line(server, 10) == b"HTTP/1.1 401 Unauthorized"
    # The 300 KB header block passes uvicorn's 16 KiB bound: refused by the parser, not the app.
    assert _status_line(server, 10_000) == b"HTTP/1.1 400 Bad Request"


def test_a_few_hundred_small_headers_get_the_apps_431(server: int) -> None:
    assert _status_line(server, 200) == b"HTTP/1.1 431 Request Header Fields Too Large"
