"""Cost of the SSRF guard: policy checks, URL validation, and per-connection overhead.

Run: python bench/bench_guard.py   (prints figures; not a pass/fail test)

The per-request figures compare make_client (resolve + check + pinned connect)
with a plain httpx.AsyncClient against the same local server, one new
connection per request (the server closes after each response), so the
guard's work is paid every time: the worst case.
"""

from __future__ import annotations

import asyncio
import time
import timeit

import httpx

from rolecall.net import NetworkPolicy, make_client, validate_base_url

POLICY = NetworkPolicy(allow_private=("127.0.0.0/8",))
REQUESTS = 300


def bench_sync() -> None:
    cases = {
        "check_ip public v4": lambda: POLICY.check_ip("8.8.8.8"),
        "check_ip public v6": lambda: POLICY.check_ip("2606:4700:4700::1111"),
        "check_ip allowed loopback": lambda: POLICY.check_ip("127.0.0.1"),
        "validate_base_url": lambda: validate_base_url("https://api.openai.com/v1/"),
    }
    for name, fn in cases.items():
        n = 20000
        seconds = timeit.timeit(fn, number=n)
        print(f"{name:28s} {seconds / n * 1e6:8.2f} µs/call")


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    await writer.drain()
    writer.close()


async def _time_requests(client: httpx.AsyncClient, url: str) -> float:
    start = time.perf_counter()
    for _ in range(REQUESTS):
        (await client.get(url)).raise_for_status()
    return (time.perf_counter() - start) / REQUESTS


async def bench_requests() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for host in ("127.0.0.1", "localhost"):
        url = f"http://{host}:{port}/"
        async with httpx.AsyncClient(trust_env=False) as plain:
            base = await _time_requests(plain, url)
        async with make_client(NetworkPolicy(allow_private=("127.0.0.0/8", "::1/128"))) as guarded:
            guard = await _time_requests(guarded, url)
        print(f"GET {host:10s} plain {base * 1e3:6.3f} ms  guarded {guard * 1e3:6.3f} ms  "
              f"overhead {(guard - base) * 1e6:+8.1f} µs/request")
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    bench_sync()
    asyncio.run(bench_requests())
