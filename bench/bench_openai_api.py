"""`POST /v1/chat/completions` streaming through RoleCall vs. a direct client to the same upstream.

Run: python bench/bench_openai_api.py [--rounds 60] [--repeats 5]   (prints figures; no pass/fail)

The fake OpenAI-compatible upstream runs in a child process (50-chunk streams, one SSE event per
chunk and per write). RoleCall runs in this process under uvicorn on a real socket, with a saved
Server-Accessible config pointing at the fake and a personal access token; the client is plain
httpx in this process too. Two paths, interleaved round by round in the same run:

* direct:   httpx -> fake upstream (the baseline outside our code)
* rolecall: httpx -> RoleCall /v1 (token check, config open, adapter, one encode per chunk) -> fake

CPU is this process's process_time per relayed chunk: for the rolecall path it holds the client,
uvicorn, the app and the upstream client; "added" is rolecall minus direct. TTFT is time from
sending the request to the first content chunk. Each figure is the median over ``--repeats``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import uvicorn
from bench_streaming import KEY, Server

from rolecall.app import create_app
from rolecall.config import LimitSettings, NetworkSettings, Settings
from rolecall.services import access_tokens, accounts, provider_configs, vault
from rolecall.services.config_input import ConfigInput
from rolecall.services.provider_configs import KeyInput
from rolecall.services.resources import Resources
from tests.factories import e2e_record

CHUNKS = 50
FAILURES: list[str] = []  # non-200 answers (printed; a round with one is not counted)
BODY = {"messages": [{"role": "user", "content": "Go"}], "stream": True, "stream_options": {"include_usage": True}}


async def stream(http: httpx.AsyncClient, url: str, model: str, headers: dict[str, str]) -> tuple[float, int]:
    """(time to the first content chunk, content chunks seen)."""
    start = time.perf_counter()
    first, count = 0.0, 0
    async with http.stream("POST", url + "/chat/completions", json={**BODY, "model": model}, headers=headers) as response:
        if response.status_code != 200:
            FAILURES.append(f"{response.status_code} {(await response.aread())[:300]!r}")
            return 0.0, 0
        async for line in response.aiter_lines():
            if line.startswith('data: {"id"') and '"content":"' in line and '"content":""' not in line:
                if not count:
                    first = time.perf_counter() - start
                count += 1
    return first, count


async def one_round(http: httpx.AsyncClient, target: tuple[str, str, dict[str, str]], concurrency: int
                    ) -> tuple[list[float], float, float, int]:
    url, model, headers = target
    cpu0, wall0 = time.process_time(), time.perf_counter()
    results = await asyncio.gather(*(stream(http, url, model, headers) for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    chunks = sum(r[1] for r in results)
    return [r[0] for r in results if r[1]], cpu, wall, chunks


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def compare(http: httpx.AsyncClient, targets: dict[str, tuple[str, str, dict[str, str]]], concurrency: int,
                  rounds: int, repeats: int) -> None:
    figures: dict[str, dict[str, list[float]]] = {p: {"p50": [], "p99": [], "cpu": [], "sps": []} for p in targets}
    for path in targets:  # warm both pools
        await one_round(http, targets[path], concurrency)
    for _ in range(repeats):
        samples = {p: {"ttft": [], "cpu": 0.0, "wall": 0.0, "chunks": 0, "streams": 0} for p in targets}
        for _ in range(rounds):
            for path, target in targets.items():  # interleaved: drift hits both paths alike
                ttfts, cpu, wall, chunks = await one_round(http, target, concurrency)
                if chunks != CHUNKS * concurrency:
                    continue
                s = samples[path]
                s["ttft"] += ttfts  # type: ignore[operator]
                s["cpu"] += cpu  # type: ignore[operator]
                s["wall"] += wall  # type: ignore[operator]
                s["chunks"] += chunks  # type: ignore[operator]
                s["streams"] += concurrency  # type: ignore[operator]
        for path, s in samples.items():
            f = figures[path]
            f["p50"].append(statistics.median(s["ttft"]) * 1e3)  # type: ignore[arg-type]
            f["p99"].append(pct(s["ttft"], 0.99) * 1e3)  # type: ignore[arg-type]
            f["cpu"].append(s["cpu"] / s["chunks"] * 1e6)  # type: ignore[operator]
            f["sps"].append(s["streams"] / s["wall"])  # type: ignore[operator]
    if FAILURES:
        print(f"  {len(FAILURES)} streams failed (rounds left out), first: {FAILURES[0]}")
        FAILURES.clear()
    med = {p: {k: statistics.median(v) for k, v in f.items()} for p, f in figures.items()}
    d, r = med["direct"], med["rolecall"]
    print(f"concurrency {concurrency:>2}:")
    for path in ("direct", "rolecall"):
        m = med[path]
        print(f"  {path:<8} {m['sps']:8.1f} streams/s  TTFT p50 {m['p50']:7.3f} ms  p99 {m['p99']:7.3f} ms  "
              f"CPU {m['cpu']:6.1f} us/chunk")
    print(f"  added by RoleCall: TTFT p50 {r['p50'] - d['p50']:+.3f} ms, p99 {r['p99'] - d['p99']:+.3f} ms; "
          f"CPU {r['cpu'] - d['cpu']:+.1f} us/chunk ({r['cpu'] / d['cpu']:.2f}x direct); "
          f"streams/s {r['sps'] / d['sps']:.2f}x direct")


async def set_up(res: Resources, upstream: str) -> str:
    account = await accounts.sign_up(res.db, "bench", "bench-password")
    record, _ = e2e_record(account.id)
    await vault.set_up(res.db, account.id, record["kdf_salt"], record["udk_gen"], record["wrapped_udk"])
    await provider_configs.create(res, account.id, "Bench", "srv", ConfigInput("openai", base_url=upstream),
                                  KeyInput(api_key=KEY))
    return (await access_tokens.create(res.db, account.id, "bench", ["chat", "models"])).token


async def measure(upstream_port: int, args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="rolecall-bench-"))
    settings = Settings(data_dir=data_dir, network=NetworkSettings(allow_private=["127.0.0.0/8"]),
                        limits=LimitSettings(api_requests_per_minute=10**9), log_level="WARNING")
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY on accept
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    try:
        upstream = f"http://127.0.0.1:{upstream_port}/v1"
        token = await set_up(app.state.res, upstream)
        targets = {
            "direct": (upstream, "bench-model", {"authorization": f"Bearer {KEY}"}),
            "rolecall": (f"http://127.0.0.1:{port}/v1", "Bench/bench-model", {"authorization": f"Bearer {token}"}),
        }
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=100)) as http:
            print(f"\n== {CHUNKS}-chunk streams, one event per chunk; {args.repeats} repeats of interleaved rounds ==")
            for concurrency in (1, 32):
                rounds = args.rounds if concurrency == 1 else max(3, args.rounds // 10)
                await compare(http, targets, concurrency, rounds, args.repeats)
    finally:
        server.should_exit = True
        await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="rounds per repeat at concurrency 1 (1/10 at 32)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    upstream = Server(CHUNKS, 1)  # the fake answers one piece per word: 50 content chunks
    try:
        print(f"python {sys.version.split()[0]}, httpx {httpx.__version__}, uvicorn {uvicorn.__version__}; "
              "fake upstream in a child process")
        asyncio.run(measure(upstream.port, args))
    finally:
        upstream.stop()


if __name__ == "__main__":
    main()
