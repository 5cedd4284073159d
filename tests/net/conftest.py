"""Fixtures for rolecall.net tests: real servers on loopback, fake DNS, a recording connector.

127.0.0.1 (and ::1) is the only network target these tests ever connect to.
The recording connector refuses anything else itself, so even a broken guard
could not send a packet to a private or public address from this suite.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme

LOOPBACK_V4 = "127.0.0.1"
LOOPBACK_V6 = "::1"
CHUNK = b"x" * 65536


class Handler(BaseHTTPRequestHandler):
    """Routes: /hello, /set-cookie, /stream, /redirect, /big (64 MiB), /gzip-bomb, /slow, /truncated; else 404."""

    server: LocalServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers.items())))
        route = {
            "/hello": self._hello,
            "/set-cookie": self._set_cookie,
            "/stream": self._stream,
            "/redirect": self._redirect,
            "/big": self._big,
            "/gzip-bomb": self._gzip_bomb,
            "/slow": self._slow,
            "/truncated": self._truncated,
        }.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        # The client may stop reading, as the size-cap tests expect.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route()

    def _hello(self) -> None:
        self._send(200, b"hello", {"Content-Type": "text/plain"})

    def _set_cookie(self) -> None:
        self._send(200, b"hello", {"Content-Type": "text/plain", "Set-Cookie": "session=one-persons; Path=/"})

    def _redirect(self) -> None:
        self._send(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()  # HTTP/1.0 + no length: the body ends when we close
        for i in range(5):
            self.wfile.write(f"data: {i}\n\n".encode())
            time.sleep(0.01)

    def _big(self) -> None:
        self.send_response(200)
        self.end_headers()
        for _ in range(1024):  # 64 MiB at most, far past any cap used in tests
            self.wfile.write(CHUNK)

    def _slow(self) -> None:
        self.send_response(200)
        self.end_headers()
        time.sleep(0.5)  # longer than the read timeout the test sets
        self.wfile.write(b"late")

    def _truncated(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"only ten b")  # then the connection closes

    def _gzip_bomb(self) -> None:
        body = gzip.compress(b"\0" * (8 * 1024 * 1024))  # ~8 KiB on the wire, 8 MiB decoded
        self._send(200, body, {"Content-Encoding": "gzip"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LocalServer(ThreadingHTTPServer):
    """HTTP(S) server on a loopback port that records every accepted connection."""

    daemon_threads = True

    def __init__(self, host: str, tls: ssl.SSLContext | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), Handler)
        self.tls = tls
        self.accepted: list[Any] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._probes: set[Any] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return self.server_address[0]

    @property
    def port(self) -> int:
        return self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._lock:
            self.accepted.append(addr)
        return conn, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # Handshake in the worker thread; a failed handshake lands in handle_error.
        with self.tls.wrap_socket(request, server_side=True) as tls_socket:
            super().finish_request(tls_socket, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed handshakes and dropped clients are part of the tests

    def connections(self) -> list[Any]:
        """Connections accepted so far, excluding our own probes.

        Connects a probe and waits until the server accepted it: accept order
        is FIFO, so every connection made before the probe is then counted.
        """
        with socket.create_connection((self.host, self.port), timeout=5) as probe:
            marker = probe.getsockname()[:2]
            deadline = time.monotonic() + 5
            while not any(tuple(a[:2]) == marker for a in self.accepted):
                assert time.monotonic() < deadline, "probe was never accepted"
                time.sleep(0.01)
        with self._lock:
            self._probes.add(marker)
            return [a for a in self.accepted if tuple(a[:2]) not in self._probes]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class RecordingSockets:
    """The connector's socket factory in tests: records each target, reaches loopback only."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, addr_info: tuple[Any, ...]) -> socket.socket:
        family, kind, proto, _, address = addr_info
        host, port = address[0], address[1]
        self.calls.append((host, port))
        if not ipaddress.ip_address(host).is_loopback:
            raise OSError(errno.ENETUNREACH, f"test connector never leaves loopback ({host})")
        return socket.socket(family, kind, proto)


class FakeDNS:
    """Resolver hook: name -> answers; a list of lists gives one answer set per call."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        answers = self.table.get(host)
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answers and isinstance(answers[0], list):  # successive answers (rebinding)
            index = min(self.calls.count(host), len(answers)) - 1
            return answers[index]
        return answers


def _ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind((LOOPBACK_V6, 0))
        return True
    except OSError:
        return False


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer(LOOPBACK_V4)
    yield srv
    srv.stop()


@pytest.fixture
def decoy() -> Iterator[LocalServer]:
    srv = LocalServer(LOOPBACK_V4)
    yield srv
    srv.stop()


@pytest.fixture
def decoy6() -> Iterator[LocalServer | None]:
    if not _ipv6_loopback_available():
        yield None
        return
    srv = LocalServer(LOOPBACK_V6)
    yield srv
    srv.stop()


@pytest.fixture
def recorder() -> RecordingSockets:
    return RecordingSockets()


@pytest.fixture
def fake_dns() -> type[FakeDNS]:
    return FakeDNS


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[Any]:
    """Factory: tls_server("api.rolecall.test") -> HTTPS server with a cert for that name."""
    started: list[LocalServer] = []

    def start(*names: str) -> LocalServer:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(*names).configure_cert(ctx)
        srv = LocalServer(LOOPBACK_V4, tls=ctx)
        srv.sni_names = []  # type: ignore[attr-defined]
        ctx.sni_callback = lambda sock, name, _ctx: srv.sni_names.append(name)  # type: ignore[attr-defined]
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
