"""Streaming through an adapter vs. reading the fake directly: CPU per chunk and added TTFT.

Run: python bench/bench_streaming.py [--chunks 20000] [--rounds 30]   (prints figures; no pass/fail)

The fake OpenAI server runs in a child process, so the CPU time measured here (process_time of
this process) is the client side only: httpx + the guard + (for the adapter) SSE splitting,
JSON parsing and ChatEvent objects. Three paths are compared on the same warm connection pool:

* raw:      plain `httpx.AsyncClient`, bytes read and dropped (a floor, not a fair baseline)
* direct:   the guarded client from `rolecall.net`, bytes read and dropped
* adapter:  `OpenAICompat.stream_chat` over the guarded client, every event consumed

"added" figures are adapter minus direct, i.e. what the providers layer itself costs.
Targets (issue): < 0.3 ms added TTFT at concurrency 1, >= 20,000 chunks/s relayed on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from rolecall.net import NetworkPolicy, make_client
from rolecall.providers import ChatMessage, ChatRequest, connect, protocol_for

KEY = "sk-test-VALID-0123456789abcdefghijklmnop"
REQUEST = ChatRequest(messages=(ChatMessage("user", "Go"),), model="bench-model")


def _serve(conn: Any, chunks: int, batch: int) -> None:
    """Child process: a FakeOpenAI whose streams are pre-encoded once and sent in batches."""
    from tests.fakes.openai_compat import FakeOpenAI

    class BenchFake(FakeOpenAI):
        def stream_frames(self, model: str, include_usage: bool) -> list[bytes]:
            key = (model, include_usage, self.reply.text)
            if key not in cache:
                cache[key] = super().stream_frames(model, include_usage)
            return cache[key]

    cache: dict[Any, list[bytes]] = {}
    fake = BenchFake().start()
    fake.reply.text = " ".join(["tok"] * chunks)
    fake.plan.batch = batch
    conn.send(fake.port)
    while True:
        message = conn.recv()
        if message == "stop":
            break
        fake.reply.text, fake.plan.batch = " ".join(["tok"] * message[0]), message[1]
        conn.send("ok")
    fake.stop()


class Server:
    def __init__(self, chunks: int, batch: int) -> None:
        self._conn, child = mp.Pipe()
        self._proc = mp.get_context("spawn").Process(target=_serve, args=(child, chunks, batch), daemon=True)
        self._proc.start()
        self.port = self._conn.recv()

    def set(self, chunks: int, batch: int) -> None:
        self._conn.send((chunks, batch))
        self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(timeout=10)


# --- the three paths -------------------------------------------------------------------------

async def direct_stream(http: httpx.AsyncClient, url: str) -> tuple[float, int]:
    """Time to the first content bytes, and bytes read."""
    body = {"model": "bench-model", "messages": [{"role": "user", "content": "Go"}], "stream": True,
            "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    first = 0.0
    size = 0
    async with http.stream("POST", url + "/chat/completions", json=body, headers={"authorization": f"Bearer {KEY}"}) as response:
        async for chunk in response.aiter_bytes():
            if not first and b'"content":"tok' in chunk:
                first = time.perf_counter() - start
            size += len(chunk)
    return first, size


async def adapter_stream(http: httpx.AsyncClient, url: str) -> tuple[float, int]:
    """Time to the first text event, and text events seen."""
    adapter = protocol_for("openai_compat")
    conn = connect("custom_openai", api_key=KEY, base_url=url)
    start = time.perf_counter()
    first = 0.0
    count = 0
    async for event in adapter.stream_chat(conn, REQUEST, http):
        if event.kind == "text":
            if not count:
                first = time.perf_counter() - start
            count += 1
    return first, count


async def run(path: str, http: httpx.AsyncClient, url: str, concurrency: int, rounds: int) -> dict[str, float]:
    stream = adapter_stream if path == "adapter" else direct_stream
    await stream(http, url)  # warm the pool
    ttfts: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        results = await asyncio.gather(*(stream(http, url) for _ in range(concurrency)))
        ttfts += [r[0] for r in results]
    return {"cpu": time.process_time() - cpu0, "wall": time.perf_counter() - wall0,
            "ttft_p50": statistics.median(ttfts), "ttft_p95": sorted(ttfts)[int(len(ttfts) * 0.95) - 1]}


async def interleaved_ttft(clients: dict[str, httpx.AsyncClient], url: str, concurrency: int, rounds: int) -> dict[str, float]:
    """Median TTFT per path, the paths taking turns so drift (CPU clock, server state) hits all."""
    streams = {"raw": direct_stream, "direct": direct_stream, "adapter": adapter_stream}
    samples: dict[str, list[float]] = {path: [] for path in streams}
    for path, stream in streams.items():
        await stream(clients[path], url)  # warm each pool
    for _ in range(rounds):
        for path, stream in streams.items():
            results = await asyncio.gather(*(stream(clients[path], url) for _ in range(concurrency)))
            samples[path] += [r[0] for r in results]
    return {path: statistics.median(values) for path, values in samples.items()}


async def measure(server: Server, args: argparse.Namespace) -> None:
    url = f"http://127.0.0.1:{server.port}/v1"
    policy = NetworkPolicy(allow_private=("127.0.0.0/8",))
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as raw, \
            make_client(policy, read_timeout=60, max_connections=200) as guarded:
        clients = {"raw": raw, "direct": guarded, "adapter": guarded}

        print("\n== time to first token (streams of 20 chunks, one frame per write; paths interleaved) ==")
        server.set(20, 1)
        for concurrency in (1, 64):
            rounds = args.rounds if concurrency == 1 else max(5, args.rounds // 5)
            ttft = await interleaved_ttft(clients, url, concurrency, rounds)
            added = (ttft["adapter"] - ttft["direct"]) * 1e3
            print(f"concurrency {concurrency:>2}: " + "  ".join(f"{p} p50 {ttft[p] * 1e3:.3f} ms" for p in ("raw", "direct", "adapter"))
                  + f"  -> added by adapter: {added:+.3f} ms")

        print(f"\n== throughput (streams of {args.chunks} chunks, {args.batch} frames per write) ==")
        server.set(args.chunks, args.batch)
        for concurrency in (1, 64):
            rounds = 3 if concurrency == 1 else 1
            chunks = args.chunks * concurrency * rounds
            direct = await run("direct", guarded, url, concurrency, rounds)
            adapted = await run("adapter", guarded, url, concurrency, rounds)
            per_chunk = adapted["cpu"] / chunks * 1e6
            added = (adapted["cpu"] - direct["cpu"]) / chunks * 1e6
            print(f"concurrency {concurrency:>2}: adapter CPU {per_chunk:.2f} us/chunk (direct {direct['cpu'] / chunks * 1e6:.2f}, "
                  f"added {added:.2f}) -> {chunks / adapted['cpu']:,.0f} chunks/s per core; "
                  f"wall {chunks / adapted['wall']:,.0f} chunks/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=20000, help="chunks per stream for the throughput runs")
    parser.add_argument("--batch", type=int, default=64, help="SSE frames per server write in throughput runs")
    parser.add_argument("--rounds", type=int, default=200, help="TTFT rounds at concurrency 1")
    args = parser.parse_args()
    server = Server(20, 1)
    try:
        print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}, fake server in a child process")
        asyncio.run(measure(server, args))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
