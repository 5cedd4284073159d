"""Cost of the SSRF guard: policy checks, URL validation, and per-connection overhead.

Run: python bench/bench_guard.py   (prints figures; not a pass/fail test)

The per-request figures compare make_client (resolve + check + pinned connect)
with a plain httpx.AsyncClient (the baseline outside our code) against the same
local server, one new connection per request (the server closes after each
response), so the guard's work is paid every time: the worst case. The two
clients take turns in rounds of BATCH requests (the order alternating), and the
figures are medians over ROUNDS rounds, with the paired per-round difference and
its spread, so machine noise shows instead of hiding in one sample.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import timeit

import httpx

from rolecall.net import NetworkPolicy, make_client, validate_base_url

POLICY = NetworkPolicy(allow_private=("127.0.0.0/8",))
ROUNDS = 41
BATCH = 20


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


async def _per_request(client: httpx.AsyncClient, url: str) -> float:
    start = time.perf_counter()
    for _ in range(BATCH):
        (await client.get(url)).raise_for_status()
    return (time.perf_counter() - start) / BATCH


async def bench_requests() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"\nper request, new connection each time; {ROUNDS} rounds of {BATCH}, clients alternating; medians")
    for host in ("127.0.0.1", "localhost"):
        url = f"http://{host}:{port}/"
        async with httpx.AsyncClient(trust_env=False) as plain, \
                make_client(NetworkPolicy(allow_private=("127.0.0.0/8", "::1/128"))) as guarded:
            clients = {"plain": plain, "guarded": guarded}
            for client in clients.values():
                await _per_request(client, url)  # warm up
            samples: dict[str, list[float]] = {"plain": [], "guarded": []}
            diffs = []
            for round_no in range(ROUNDS):
                order = ["plain", "guarded"] if round_no % 2 == 0 else ["guarded", "plain"]
                got = {name: await _per_request(clients[name], url) for name in order}
                for name, value in got.items():
                    samples[name].append(value)
                diffs.append(got["guarded"] - got["plain"])
        plain_ms, guard_ms = statistics.median(samples["plain"]), statistics.median(samples["guarded"])
        q1, _, q3 = statistics.quantiles(diffs, n=4)
        print(f"GET {host:10s} plain {plain_ms * 1e3:6.3f} ms  guarded {guard_ms * 1e3:6.3f} ms  "
              f"ratio {guard_ms / plain_ms:4.2f}x  paired overhead median {statistics.median(diffs) * 1e6:+7.1f} µs "
              f"(middle half {q1 * 1e6:+.1f} to {q3 * 1e6:+.1f} µs)")
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    bench_sync()
    asyncio.run(bench_requests())
