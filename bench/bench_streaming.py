"""Streaming through our stack vs. a plain HTTP client: time to first token, time per stream, CPU per chunk.

Run: python bench/bench_streaming.py [--chunks 50] [--rounds 60]   (prints figures; no pass/fail)

Realistic streams: 50 chunks each, one SSE event per HTTP chunk (what providers send), so
per-chunk and per-stream costs both show. The fake OpenAI server runs in a child process; CPU
time (process_time of this process) is the client side only. Paths, interleaved round by round
(the order rotates each round) so drift in CPU clock or machine load hits each of them alike:

* plain:     `httpx.AsyncClient` without our guard, bytes read and dropped. The baseline outside our code.
* plain+sse: the same plain client, lines split and each `data:` JSON parsed (what a naive SDK does).
* guarded:   our `rolecall.net` client (SSRF guard, pinned connections), bytes read and dropped.
* adapter:   `OpenAICompat.stream_chat` over the guarded client, every event consumed.

Every figure is a median over rounds; ratios are against `plain` measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from rolecall.net import NetworkPolicy, make_client
from rolecall.providers import ChatMessage, ChatRequest, connect, protocol_for

KEY = "sk-test-VALID-0123456789abcdefghijklmnop"
REQUEST = ChatRequest(messages=(ChatMessage("user", "Go"),), model="bench-model")
BODY = {"model": "bench-model", "messages": [{"role": "user", "content": "Go"}], "stream": True,
        "stream_options": {"include_usage": True}}


def _serve(conn: Any, chunks: int) -> None:
    """Child process: a FakeOpenAI whose streams are pre-encoded once, one frame per write."""
    from tests.fakes.openai_compat import FakeOpenAI

    cache: dict[Any, list[bytes]] = {}

    class BenchFake(FakeOpenAI):
        def stream_frames(self, model: str, include_usage: bool) -> list[bytes]:
            key = (model, include_usage, self.reply.text)
            if key not in cache:
                cache[key] = super().stream_frames(model, include_usage)
            return cache[key]

    fake = BenchFake().start()
    fake.reply.text = " ".join(["tok"] * chunks)
    fake.plan.batch = 1
    conn.send(fake.port)
    conn.recv()  # "stop"
    fake.stop()


# --- the paths: each returns (seconds to the first content, text chunks seen) ------------------

async def _raw(http: httpx.AsyncClient, url: str, parse: bool) -> tuple[float, int]:
    start = time.perf_counter()
    first, seen = 0.0, 0
    async with http.stream("POST", url + "/chat/completions", json=BODY, headers={"authorization": f"Bearer {KEY}"}) as response:
        if parse:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    choices = json.loads(line[6:]).get("choices") or [{}]
                    if choices[0].get("delta", {}).get("content"):
                        first = first or time.perf_counter() - start
                        seen += 1
        else:
            async for chunk in response.aiter_bytes():
                if b'"content":"' in chunk:
                    first = first or time.perf_counter() - start
                    seen += 1
    return first, seen


async def _adapter(http: httpx.AsyncClient, url: str) -> tuple[float, int]:
    adapter = protocol_for("openai_compat")
    conn = connect("custom_openai", api_key=KEY, base_url=url)
    start = time.perf_counter()
    first, seen = 0.0, 0
    async for event in adapter.stream_chat(conn, REQUEST, http):
        if event.kind == "text":
            first = first or time.perf_counter() - start
            seen += 1
    return first, seen


async def measure(url: str, concurrency: int, rounds: int, paths: dict[str, Callable[[], Awaitable[tuple[float, int]]]]) -> None:
    samples: dict[str, dict[str, list[float]]] = {p: {"ttft": [], "stream": [], "cpu_chunk": []} for p in paths}
    names = list(paths)
    for name in names:  # warm each pool
        await paths[name]()
    for round_no in range(rounds):
        for name in names[round_no % len(names):] + names[:round_no % len(names)]:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            results = await asyncio.gather(*(paths[name]() for _ in range(concurrency)))
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            chunks = sum(seen for _, seen in results) or 1
            samples[name]["ttft"] += [first for first, _ in results]
            samples[name]["stream"].append(wall)
            samples[name]["cpu_chunk"].append(cpu / chunks)
    med = {p: {k: statistics.median(v) for k, v in s.items()} for p, s in samples.items()}
    base = med["plain"]
    print(f"\n== concurrency {concurrency}: {rounds} rounds, medians (ratio to plain httpx) ==")
    print(f"{'path':10s} {'TTFT ms':>16s} {'wall per round ms':>20s} {'CPU us/chunk':>18s}")
    for p, m in med.items():
        print(f"{p:10s} {m['ttft'] * 1e3:8.3f} ({m['ttft'] / base['ttft']:4.2f}x) "
              f"{m['stream'] * 1e3:10.2f} ({m['stream'] / base['stream']:4.2f}x) "
              f"{m['cpu_chunk'] * 1e6:9.2f} ({m['cpu_chunk'] / base['cpu_chunk']:4.2f}x)")
    added_ttft = (med["adapter"]["ttft"] - base["ttft"]) * 1e3
    added_cpu = (med["adapter"]["cpu_chunk"] - base["cpu_chunk"]) * 1e6
    print(f"added by our stack (adapter - plain): TTFT {added_ttft:+.3f} ms, CPU {added_cpu:+.2f} us/chunk; "
          f"adapter relays {1 / med['adapter']['cpu_chunk']:,.0f} chunks per CPU-second")


async def main_async(port: int, args: argparse.Namespace) -> None:
    url = f"http://127.0.0.1:{port}/v1"
    policy = NetworkPolicy(allow_private=("127.0.0.0/8",))
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as plain, \
            make_client(policy, read_timeout=60, max_connections=200) as guarded:
        paths = {
            "plain": lambda: _raw(plain, url, parse=False),
            "plain+sse": lambda: _raw(plain, url, parse=True),
            "guarded": lambda: _raw(guarded, url, parse=False),
            "adapter": lambda: _adapter(guarded, url),
        }
        await measure(url, 1, args.rounds, paths)
        await measure(url, 16, max(10, args.rounds // 4), paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chunks", type=int, default=50, help="text chunks per stream (one SSE event per HTTP chunk)")
    parser.add_argument("--rounds", type=int, default=60, help="rounds at concurrency 1 (a quarter of that at 16)")
    args = parser.parse_args()
    conn, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(child, args.chunks), daemon=True)
    proc.start()
    try:
        port = conn.recv()
        print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}; streams of {args.chunks} chunks, "
              "one event per HTTP chunk; fake server in a child process")
        asyncio.run(main_async(port, args))
    finally:
        conn.send("stop")
        proc.join(timeout=10)


if __name__ == "__main__":
    main()
