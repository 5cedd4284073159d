"""The scene message endpoint relaying a fake upstream, beside direct clients of the same upstream.

Run: python bench/bench_relay.py [--db sqlite|postgres|both] [--rounds 5] [--baseline DIR]   (prints figures)

With `--baseline DIR` a second `rolecall serve` runs from another checkout (e.g. a worktree of
`main`) against its own database and the same fake, as the case `relay-baseline` in the same
interleaved rounds: before/after figures from one run, so the machine's load hits both alike.

Three processes: the fake OpenAI-compatible upstream (50-chunk streams, one SSE event per
chunk) and `rolecall serve` are children; this process drives them. Cases, interleaved within
every round so machine noise hits them alike:

* direct-httpx / direct-aiohttp: a plain client streaming the fake itself (the references)
* relay: `POST /api/scenes/{id}/messages` on RoleCall, read until the end of the event stream

at concurrency 1 and 32. Figures are medians over rounds (TTFT percentiles over every stream):

* streams/s and chunks/s; TTFT p50/p99 (request sent -> first text chunk) and relay minus direct
* server CPU per relayed chunk, from the child's /proc utime and stime: total (everything a turn
  costs, divided by its chunks) and marginal ((CPU of a 1000-chunk turn - CPU of a 1-chunk turn) /
  999, i.e. the relay loop itself); the direct rows show this process's CPU per chunk, the client
  library alone (the floor for the relay's own outbound read)
* server RSS per open stream (streams held open by a slow upstream) and RSS before/after all rounds
* the database writes a turn must make, timed from this process on the same database: the person's
  message (before the upstream call, so it is inside TTFT), the reply row (after the first token)
  and the final text. "added TTFT beyond the writes" = relay p50 - direct p50 - user-message write.
* fallback (c=1, interleaved with relay and direct-503): the scene's model answers 503 at once and
  the preset's next slot streams; "added by the fallback hop" = fallback p50 - relay p50 - the
  503 call itself (direct-503 p50), i.e. what walking on to the next slot costs (issue 12 target:
  <= 2 ms). `--fallback-only` runs just these three cases.

Targets (issue 11): added TTFT p50 <= 1 ms at c=1 beyond the DB writes, <= 30 us CPU per relayed
chunk, >= 30% of the direct client's streams/s at c=32, memory flat per stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import httpx

from rolecall.crypto import generate_key_file_text
from tests.factories import e2e_record

KEY = "sk-test-VALID-0123456789abcdefghijklmnop"
CHUNKS = 50
LONG = 1000  # chunks per turn for the marginal CPU figure
MODEL = "gpt-4o-mini"
DOWN = "down-model"  # the bench fake answers 503 at once for this model (the fallback case's primary)
PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TICK = os.sysconf("SC_CLK_TCK")


# --- the fake upstream (child process) ---------------------------------------------------------

def _serve_fake(conn: Any) -> None:
    from tests.fakes.openai_compat import FakeOpenAI

    cache: dict[Any, list[bytes]] = {}

    class BenchFake(FakeOpenAI):
        def stream_frames(self, model: str, include_usage: bool) -> list[bytes]:
            key = (model, include_usage, self.reply.text)
            if key not in cache:
                cache[key] = super().stream_frames(model, include_usage)
            self.requests.clear()  # the fake keeps no history during a benchmark
            return cache[key]

        async def chat(self, request: Any) -> Any:
            from starlette.responses import JSONResponse

            if json.loads(await request.body()).get("model") == DOWN:
                return JSONResponse({"error": {"message": "overloaded", "type": "server_error"}}, status_code=503)
            return await super().chat(request)

    fake = BenchFake().start()
    fake.reply.text = " ".join(["tok"] * CHUNKS)
    conn.send(fake.port)
    while (message := conn.recv()) != "stop":
        chunks, delay = message
        fake.reply.text, fake.plan.chunk_delay = " ".join(["tok"] * chunks), delay
        conn.send("ok")
    fake.stop()


class Fake:
    def __init__(self) -> None:
        self._conn, child = mp.Pipe()
        self._proc = mp.get_context("spawn").Process(target=_serve_fake, args=(child,), daemon=True)
        self._proc.start()
        self.port: int = self._conn.recv()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def set(self, chunks: int = CHUNKS, delay: float = 0.0) -> None:
        self._conn.send((chunks, delay))
        self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(timeout=10)


# --- RoleCall (child process) ------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class App:
    def __init__(self, data_dir: Path, database_url: str | None, checkout: Path | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") and k not in ("DATABASE_URL", "REDIS_URL")}
        # One bench account runs 32 streams (and holds 64 open for the memory figure): a bench
        # setting lifts the per-account and per-destination provider-call slots (8 and 32 by default).
        env.update({"ROLECALL_LIMITS__OUTBOUND_PER_ACCOUNT": "128", "ROLECALL_LIMITS__OUTBOUND_PER_ORIGIN": "128"})
        # The fallback case's primary fails every time: its circuit must stay closed so each turn pays the failed call.
        env["ROLECALL_BREAKER__THRESHOLD"] = "1000000000"
        env.update({"ROLECALL_NETWORK__ALLOW_PRIVATE": '["127.0.0.0/8"]', "ROLECALL_LOG_LEVEL": "WARNING",
                    "PYTHONPATH": str(checkout or Path(__file__).resolve().parents[1])})
        if database_url:
            env["DATABASE_URL"] = database_url
            env["ROLECALL_ENCRYPTION_KEYS"] = generate_key_file_text("bench").strip()
        self.database_url = database_url or f"sqlite+aiosqlite:///{data_dir / 'rolecall.db'}"
        self.proc = subprocess.Popen([sys.executable, "-m", "rolecall", "serve", "--port", str(self.port),
                                      "--data-dir", str(data_dir)], env=env)

    async def wait(self) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(600):
                try:
                    if (await client.get(self.url + "/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError("rolecall serve did not start")

    def cpu(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the server process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICK, int(fields[12]) / TICK

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)


async def _csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": (await client.get("/api/csrf")).json()["csrf_token"]}


async def set_up(app: App, fake: Fake) -> tuple[httpx.AsyncClient, str, str]:
    """An account with encryption, a Server-Accessible config on the fake, and a character."""
    client = httpx.AsyncClient(base_url=app.url, timeout=60, limits=httpx.Limits(max_connections=200))
    h = await _csrf(client)
    await client.post("/api/auth/signup", json={"name": "bench", "password": "correct horse battery"}, headers=h)
    account_id = (await client.get("/api/me")).json()["id"]
    h = await _csrf(client)
    record, _ = e2e_record(account_id)
    await client.post("/api/encryption/setup", json=record, headers=h)
    config = await client.post("/api/provider-configs", headers=h, json={
        "provider_id": "openai", "base_url": fake.url, "label": "fake", "privacy_mode": "srv", "api_key": KEY})
    character = await client.post("/api/characters", headers=h, json={
        "name": "Mira", "persona": "A lighthouse keeper.", "first_message": "Storm's coming."})
    return client, config.json()["id"], character.json()["id"]


async def new_scene(client: httpx.AsyncClient, config_id: str, character_id: str, model: str = MODEL) -> str:
    h = await _csrf(client)
    scene = (await client.post("/api/scenes", json={"character_ids": [character_id]}, headers=h)).json()
    await client.patch(f"/api/scenes/{scene['id']}", json={"model": {"section": config_id, "model_id": model}}, headers=h)
    return str(scene["id"])


async def default_preset(client: httpx.AsyncClient, config_id: str) -> None:
    """The account's default preset: one slot, the model that streams (a scene whose own model is
    DOWN falls back to it; for the other scenes it repeats their model and is dropped from the walk)."""
    made = await client.post("/api/presets", headers=await _csrf(client), json={
        "name": "Bench", "is_default": True, "slots": [{"section": config_id, "model_id": MODEL}]})
    assert made.status_code == 201, made.text


# --- one stream per path -----------------------------------------------------------------------

BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Go"}], "stream": True,
        "stream_options": {"include_usage": True}}
AUTH = {"authorization": f"Bearer {KEY}"}


async def direct_httpx(http: httpx.AsyncClient, url: str) -> float:
    start = time.perf_counter()
    first = 0.0
    async with http.stream("POST", url + "/chat/completions", json=BODY, headers=AUTH) as response:
        async for chunk in response.aiter_raw():
            if not first and b'"content":"tok' in chunk:
                first = time.perf_counter() - start
    return first


async def direct_aiohttp(session: aiohttp.ClientSession, url: str) -> float:
    start = time.perf_counter()
    first = 0.0
    async with session.post(url + "/chat/completions", json=BODY, headers=AUTH) as response:
        async for chunk in response.content.iter_any():
            if not first and b'"content":"tok' in chunk:
                first = time.perf_counter() - start
    return first


async def direct_503(http: httpx.AsyncClient, url: str) -> float:
    """The failed call alone: the time to the 503 answer of the fallback case's primary."""
    start = time.perf_counter()
    response = await http.post(url + "/chat/completions", json={**BODY, "model": DOWN}, headers=AUTH)
    if response.status_code != 503:
        raise RuntimeError("the fake did not fail the primary")
    return time.perf_counter() - start


async def relay(client: httpx.AsyncClient, scene_id: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    first = 0.0
    async with client.stream("POST", f"/api/scenes/{scene_id}/messages", json={"text": "Go on."}, headers=headers) as response:
        async for chunk in response.aiter_raw():
            if not first and b"event: delta" in chunk:
                first = time.perf_counter() - start
    if not first:
        raise RuntimeError("the relay sent no delta")
    return first


# --- measuring ---------------------------------------------------------------------------------

class Bench:
    def __init__(self, app: App, fake: Fake, client: httpx.AsyncClient, config_id: str, character_id: str) -> None:
        self.app, self.fake, self.client = app, fake, client
        self.config_id, self.character_id = config_id, character_id
        self.http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200))
        self.session: aiohttp.ClientSession | None = None
        self.cases: tuple[str, ...] = ("direct-httpx", "direct-aiohttp", "relay")
        # relay cases -> (server, its client, config id, character id)
        self.servers: dict[str, tuple[App, httpx.AsyncClient, str, str]] = {"relay": (app, client, config_id, character_id)}

    async def add_baseline(self, app: App) -> None:
        """A second RoleCall (another checkout) relaying the same fake: the case `relay-baseline`."""
        await app.wait()
        client, config_id, character_id = await set_up(app, self.fake)
        self.servers["relay-baseline"] = (app, client, config_id, character_id)
        self.cases += ("relay-baseline",)

    async def run_case(self, case: str, concurrency: int, per_worker: int) -> dict[str, Any]:
        """``concurrency`` workers, each doing ``per_worker`` streams back to back."""
        app, client, config_id, character_id = self.servers.get(case, self.servers["relay"])
        headers = await _csrf(client)
        model = DOWN if case == "fallback" else MODEL
        relayed = case in self.servers or case == "fallback"
        scenes = [await new_scene(client, config_id, character_id, model) for _ in range(concurrency)] \
            if relayed else []

        async def worker(n: int) -> list[float]:
            out = []
            for _ in range(per_worker):
                if relayed:
                    out.append(await relay(client, scenes[n], headers))
                elif case == "direct-httpx":
                    out.append(await direct_httpx(self.http, self.fake.url))
                elif case == "direct-503":
                    out.append(await direct_503(self.http, self.fake.url))
                else:
                    assert self.session is not None
                    out.append(await direct_aiohttp(self.session, self.fake.url))
            return out

        (u0, s0), own0, wall0 = app.cpu(), os.times(), time.perf_counter()
        results = await asyncio.gather(*(worker(n) for n in range(concurrency)))
        wall, (u1, s1), own1 = time.perf_counter() - wall0, app.cpu(), os.times()
        ttfts = [t for r in results for t in r]
        return {"streams": len(ttfts), "wall": wall, "server_user": u1 - u0, "server_sys": s1 - s0,
                "client_user": own1.user - own0.user, "client_sys": own1.system - own0.system, "ttfts": ttfts}

    async def rounds(self, rounds: int) -> dict[tuple[str, int], dict[str, list[float]]]:
        cases = self.cases
        shape = {1: 20, 32: 3}  # streams per worker
        out: dict[tuple[str, int], dict[str, list[float]]] = {}
        for case in cases:  # warm-up: pools, imports, caches
            await self.run_case(case, 4, 2)
        for round_no in range(rounds):
            for concurrency, per_worker in shape.items():
                # The order rotates each round: whichever case runs first after a switch pays for it.
                for case in cases[round_no % len(cases):] + cases[:round_no % len(cases)]:
                    r = await self.run_case(case, concurrency, per_worker)
                    slot = out.setdefault((case, concurrency), {"sps": [], "user": [], "sys": [], "ttfts": []})
                    slot["sps"].append(r["streams"] / r["wall"])
                    # relay: the server's CPU; direct: this process's (the client library reading the same chunks)
                    who = "server" if case in self.servers or case == "fallback" else "client"
                    slot["user"].append(r[f"{who}_user"] / (r["streams"] * CHUNKS))
                    slot["sys"].append(r[f"{who}_sys"] / (r["streams"] * CHUNKS))
                    slot["ttfts"] += r["ttfts"]
        return out

    async def fallback_rounds(self, rounds: int) -> dict[str, list[float]]:
        """TTFTs at c=1 of relay, fallback and the failed call alone, interleaved within each round."""
        cases = ("relay", "fallback", "direct-503")
        for case in cases:
            await self.run_case(case, 1, 3)  # warm-up
        out: dict[str, list[float]] = {case: [] for case in cases}
        for _ in range(rounds):
            for case in cases:
                out[case] += (await self.run_case(case, 1, 20))["ttfts"]
        return out

    async def marginal_cpu(self, rounds: int, case: str = "relay") -> tuple[float, float]:
        """Server (user, system) CPU per relayed chunk without the per-turn costs: LONG-chunk turns
        minus 1-chunk turns, divided by the chunks between them (long turns: the 10 ms CPU clock
        tick and the per-turn noise shrink next to the relay loop)."""
        per: dict[tuple[int, str], list[float]] = {}
        for _ in range(rounds):
            for chunks in (LONG, 1):
                self.fake.set(chunks)
                r = await self.run_case(case, 8, 4)
                for part in ("user", "sys"):
                    per.setdefault((chunks, part), []).append(r[f"server_{part}"] / r["streams"])
        self.fake.set(CHUNKS)
        user, sys_ = ((statistics.median(per[(LONG, p)]) - statistics.median(per[(1, p)])) / (LONG - 1)
                      for p in ("user", "sys"))
        return user, sys_

    async def rss_per_stream(self, open_streams: int = 64) -> tuple[float, float]:
        """(idle RSS MiB, extra KiB per open stream) with streams held open by a slow upstream."""
        self.fake.set(CHUNKS, 0.06)  # ~3 s per stream
        headers = await _csrf(self.client)
        scenes = [await new_scene(self.client, self.config_id, self.character_id) for _ in range(open_streams)]
        idle = self.app.rss_mib()
        tasks = [asyncio.create_task(relay(self.client, s, headers)) for s in scenes]
        await asyncio.sleep(1.5)
        busy = self.app.rss_mib()
        await asyncio.gather(*tasks)
        self.fake.set(CHUNKS, 0.0)
        return idle, (busy - idle) * 1024 / open_streams

    async def db_writes(self, samples: int = 60) -> dict[str, float]:
        """Median ms of each write a turn makes, against the server's database, from this process."""
        from rolecall.services import gateway, messages, presets
        from rolecall.services.messages import Made, Outcome, ReplyTarget
        from rolecall.services.stored_config import load_owned
        from rolecall.storage.db import make_engine, make_sessionmaker

        account_id = (await self.client.get("/api/me")).json()["id"]
        scene_id = await new_scene(self.client, self.config_id, self.character_id)
        engine = make_engine(self.app.database_url)
        db = make_sessionmaker(engine)
        times: dict[str, list[float]] = {"reads before upstream": [], "user message": [], "reply row": [], "final text": []}
        made = Made(self.config_id, MODEL, "openai")
        try:
            for _ in range(samples):
                # What a turn reads before the upstream call: the session, the turn, its preset and
                # chain (the scene's model's label comes with the chain walk's plan), the config.
                r0 = time.perf_counter()
                await accounts_session(db)
                turn = await messages.load_turn(db, account_id, scene_id, "send")
                preset = await gateway.preset_use(db, turn)
                if preset.id:
                    await presets.chain(db, account_id, preset.id)
                await load_owned(db, account_id, self.config_id, with_models=False)
                times["reads before upstream"].append(time.perf_counter() - r0)
                t0 = time.perf_counter()
                await messages.add_user_message(db, account_id, scene_id, "Go on.")
                t1 = time.perf_counter()
                target = ReplyTarget(scene_id, account_id, secrets.token_hex(12), 0)
                started = await messages.begin_reply(db, target, made)
                t2 = time.perf_counter()
                await messages.finish_reply(db, target, Outcome("tok " * CHUNKS, "complete", "stop", 12, 50), made, {}, started)
                t3 = time.perf_counter()
                times["user message"].append(t1 - t0)
                times["reply row"].append(t2 - t1)
                times["final text"].append(t3 - t2)
        finally:
            await engine.dispose()
        return {name: statistics.median(values) * 1000 for name, values in times.items()}


async def accounts_session(db: Any) -> None:
    """The session lookup every request makes (an unknown token costs the same query)."""
    from rolecall.services import accounts

    await accounts.session_account(db, "bench-" + secrets.token_hex(16))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def print_fallback(label: str, ttfts: dict[str, list[float]]) -> None:
    p50 = {case: statistics.median(values) * 1000 for case, values in ttfts.items()}
    added = p50["fallback"] - p50["relay"] - p50["direct-503"]
    print(f"\n== {label}: fallback (c=1, {len(ttfts['fallback'])} turns each, interleaved) ==")
    print(f"TTFT p50: relay (one slot) {p50['relay']:.2f} ms, fallback (503 then the next slot) {p50['fallback']:.2f} ms, "
          f"the 503 call alone {p50['direct-503']:.2f} ms")
    print(f"added by the fallback hop beyond the failed call: {added:.2f} ms (target <= 2 ms)")
    print(json.dumps({"db": label, "fallback_added_ms": round(added, 2), "p50_ms": {k: round(v, 2) for k, v in p50.items()}}))


async def measure(label: str, database_url: str | None, rounds: int, baseline: Path | None = None,
                  baseline_url: str | None = None, fallback_only: bool = False) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    base_dir = Path(tempfile.mkdtemp(prefix="bench-relay-baseline-"))
    fake = Fake()
    app = App(data_dir, database_url)
    base_app = App(base_dir, baseline_url, checkout=baseline) if baseline else None
    try:
        await app.wait()
        client, config_id, character_id = await set_up(app, fake)
        await default_preset(client, config_id)
        bench = Bench(app, fake, client, config_id, character_id)
        if fallback_only:
            print_fallback(label, await bench.fallback_rounds(rounds))
            await bench.http.aclose()
            await client.aclose()
            return
        if base_app is not None:
            await bench.add_baseline(base_app)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
            bench.session = session
            rss_start = app.rss_mib()
            results = await bench.rounds(rounds)
            fallback = await bench.fallback_rounds(rounds)
            marginal = await bench.marginal_cpu(rounds)
            base_marginal = await bench.marginal_cpu(rounds, "relay-baseline") if base_app else None
            idle, per_stream = await bench.rss_per_stream()
            rss_end = app.rss_mib()
            writes = await bench.db_writes()
        await bench.http.aclose()
        for _, other, *_ in bench.servers.values():
            await other.aclose()
    finally:
        app.stop()
        if base_app is not None:
            base_app.stop()
        fake.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(base_dir, ignore_errors=True)

    print(f"\n== {label}: {rounds} rounds, {CHUNKS}-chunk streams ==")
    print("CPU/chunk: relay = the RoleCall server process (everything a turn costs / its chunks); direct = this")
    print("process, i.e. the client library alone reading the same chunks. user+system, in microseconds.")
    print(f"{'case':16} {'c':>3} {'streams/s':>10} {'chunks/s':>10} {'TTFT p50':>10} {'TTFT p99':>10} {'CPU/chunk user+sys':>20}")
    for (case, concurrency), slot in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        sps = statistics.median(slot["sps"])
        cpu = f"{statistics.median(slot['user']) * 1e6:.1f}+{statistics.median(slot['sys']) * 1e6:.1f} us"
        print(f"{case:16} {concurrency:>3} {sps:>10.1f} {sps * CHUNKS:>10.0f} {_pct(slot['ttfts'], 0.5) * 1000:>8.2f}ms "
              f"{_pct(slot['ttfts'], 0.99) * 1000:>8.2f}ms {cpu:>20}")
    before = writes["user message"] + writes["reads before upstream"]
    for relay_case in bench.servers:
        for concurrency in (1, 32):
            relay_p50 = _pct(results[(relay_case, concurrency)]["ttfts"], 0.5) * 1000
            for ref in ("direct-httpx", "direct-aiohttp"):
                added = relay_p50 - _pct(results[(ref, concurrency)]["ttfts"], 0.5) * 1000
                ratio = statistics.median(results[(relay_case, concurrency)]["sps"]) / statistics.median(results[(ref, concurrency)]["sps"])
                print(f"{relay_case} c={concurrency:<2} vs {ref:14}: added TTFT p50 {added:6.2f} ms ({added - writes['user message']:6.2f} "
                      f"beyond the user-message write, {added - before:6.2f} beyond all database work before the first token), "
                      f"streams/s {ratio * 100:5.1f}% of direct")
    print(f"server CPU per relayed chunk, marginal ({LONG}-chunk minus 1-chunk turns): user {marginal[0] * 1e6:.1f} us "
          f"+ system {marginal[1] * 1e6:.1f} us" + (f"; baseline: user {base_marginal[0] * 1e6:.1f} us + system "
                                                    f"{base_marginal[1] * 1e6:.1f} us" if base_marginal else ""))
    print(f"server RSS: {rss_start:.1f} MiB after start, {idle:.1f} MiB idle after the rounds, {rss_end:.1f} MiB at the end; "
          f"{per_stream:.1f} KiB per open stream (64 held open)")
    print("database work per turn (median ms, from this process): " + ", ".join(f"{k} {v:.2f}" for k, v in writes.items()))
    print_targets(results, marginal, writes, per_stream)
    print(json.dumps({"db": label, "marginal_cpu_us": [round(marginal[0] * 1e6, 1), round(marginal[1] * 1e6, 1)],
                      "kib_per_stream": round(per_stream, 1), "writes_ms": {k: round(v, 2) for k, v in writes.items()}}))
    print_fallback(label, fallback)


def print_targets(results: dict[tuple[str, int], dict[str, list[float]]], marginal: tuple[float, float],
                  writes: dict[str, float], per_stream: float) -> None:
    """Issue 11's targets for the `relay` case, each with the figure it is judged on."""
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    relay_p50 = _pct(results[("relay", 1)]["ttfts"], 0.5) * 1000
    added = relay_p50 - _pct(results[("direct-httpx", 1)]["ttfts"], 0.5) * 1000 - writes["user message"]
    cpu = sum(marginal) * 1e6
    ratios = {ref: statistics.median(results[("relay", 32)]["sps"]) / statistics.median(results[(ref, 32)]["sps"])
              for ref in ("direct-httpx", "direct-aiohttp")}
    turn_ms = {c: (statistics.median(results[("relay", c)]["user"]) + statistics.median(results[("relay", c)]["sys"]))
               * CHUNKS * 1000 for c in (1, 32)}
    print("targets (relay):")
    print(f"  added TTFT p50 at c=1 beyond the user-message write <= 1 ms: {added:.2f} ms, {verdict(added <= 1)}")
    print(f"  CPU per relayed chunk (marginal, user+system) <= 30 us: {cpu:.1f} us, {verdict(cpu <= 30)}")
    print(f"  streams/s at c=32 >= 30% of direct: {ratios['direct-httpx'] * 100:.1f}% of httpx "
          f"({verdict(ratios['direct-httpx'] >= 0.3)}), {ratios['direct-aiohttp'] * 100:.1f}% of aiohttp "
          f"({verdict(ratios['direct-aiohttp'] >= 0.3)})")
    print(f"  memory flat per stream: {per_stream:.1f} KiB per open stream")
    print(f"  (server CPU per whole 50-chunk turn: {turn_ms[1]:.1f} ms at c=1, {turn_ms[32]:.1f} ms at c=32: "
          "the per-turn cost that bounds streams/s)")


async def _postgres_database() -> tuple[str, Any]:
    import asyncpg

    name = f"bench_relay_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_SERVER)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        c = await asyncpg.connect(PG_SERVER)
        await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await c.close()

    return PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name, drop


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fallback-only", action="store_true", help="only the fallback case (and its references)")
    parser.add_argument("--baseline", type=Path, help="another checkout to run as the case relay-baseline")
    args = parser.parse_args()
    baseline = args.baseline.resolve() if args.baseline else None
    if args.db in ("sqlite", "both"):
        await measure("SQLite", None, args.rounds, baseline, fallback_only=args.fallback_only)
    if args.db in ("postgres", "both"):
        databases = [await _postgres_database() for _ in range(2 if baseline else 1)]
        try:
            await measure("PostgreSQL", databases[0][0], args.rounds, baseline, databases[-1][0] if baseline else None,
                          fallback_only=args.fallback_only)
        finally:
            for _, drop in databases:
                await drop()


if __name__ == "__main__":
    asyncio.run(main())
