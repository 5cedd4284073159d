"""`rolecall serve` bounds the header block before the app runs (`web/http_protocol.py`)."""

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
    # The 300 KB header block passes the server's 16 KiB bound: refused by the parser, not the app.
    assert _status_line(server, 10_000) == b"HTTP/1.1 400 Bad Request"


def test_a_few_hundred_small_headers_get_the_apps_431(server: int) -> None:
    assert _status_line(server, 200) == b"HTTP/1.1 431 Request Header Fields Too Large"


def test_one_endless_header_is_refused_before_it_ends(server: int) -> None:
    # The parser hands a header over only once it is complete: 64 KiB of one value, never ended,
    # is refused from the bytes received so far.
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nx-long: ")
        for _ in range(16):
            try:
                s.sendall(b"v" * 4096)
            except OSError:  # the server closed the connection after answering
                break
        assert s.recv(65536).split(b"\r\n", 1)[0] == b"HTTP/1.1 400 Bad Request"


def _response(s: socket.socket) -> bytes:
    """One whole response (its status line back), so the next request on the connection can go."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, rest = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(rest) < length:
        rest += s.recv(65536)
    return head.split(b"\r\n", 1)[0]


def test_a_large_body_and_a_second_request_on_the_connection_pass(server: int) -> None:
    # Body bytes arriving with the head are not header bytes; keep-alive requests each get the bound afresh.
    body = b"{" + b" " * 200_000 + b"}"
    request = (b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
               b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    headers = b"".join(f"x-h{n}: {'v' * 20}\r\n".encode() for n in range(300))  # ~9 KB each time
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(request)
        first = _response(s)
        for _ in range(3):
            s.sendall(b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
            assert _response(s) == b"HTTP/1.1 431 Request Header Fields Too Large"
    assert first == b"HTTP/1.1 403 Forbidden"  # the app's answer (no CSRF token), not the parser's 400
