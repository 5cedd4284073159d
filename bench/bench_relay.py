"""RoleCall relaying a fake upstream (the scene endpoint and /v1), beside direct clients of the same upstream.

Run: python bench/bench_relay.py [--db sqlite|postgres|both] [--rounds 5] [--baseline DIR]
     [--fallback-only] [--litellm-python PATH]   (prints figures)

With `--baseline DIR` a second `rolecall serve` runs from another checkout (e.g. a worktree of
`main`) against its own database and the same fake, as the cases `relay-baseline` and
`api-baseline` in the same interleaved rounds: before/after figures from one run, so the
machine's load hits both alike.

Processes: the fake OpenAI-compatible upstream (50-chunk streams, one SSE event per chunk) and
`rolecall serve` are children (`relay_parts.py`); this process drives them. Cases, interleaved
within every round (the order rotates each round) so machine noise hits them alike:

* direct-aiohttp / direct-httpx: a plain client streaming the fake itself (the references). The
  load generator of every served case below is aiohttp, so each is read against direct-aiohttp
  (the client's own cost cancels); a plain httpx client reaches only ~100-250 streams/s at c=32
  here, and driving a server with it measured the client (direct-httpx shows it).
* relay: `POST /api/scenes/{id}/messages` on RoleCall, read until the end of the event stream
* api: `POST /v1/chat/completions` on RoleCall (streaming, a personal access token, the model
  "fake/gpt-4o-mini" through the Server-Accessible config), read until `[DONE]`
* floor: `relay_floor.py`, a minimal aiohttp pass-through proxy (no code of ours) in front of the
  same fake: what one more hop costs any Python proxy on this machine, the reference the added
  TTFT of relay and api is also read against ("beyond the floor")
* litellm: LiteLLM's proxy (one worker, no database) in front of the same fake, where LiteLLM is
  installed (in this interpreter, or the one `--litellm-python` names); a line says when it is not

at concurrency 1 and 32. Figures are medians over rounds (TTFT percentiles over every stream):

* streams/s and chunks/s; TTFT p50/p99 (request sent -> first text chunk) and each path minus direct-aiohttp
* server CPU per relayed chunk, from the child's /proc utime and stime: total (everything a turn
  costs, divided by its chunks) and marginal ((CPU of a 1000-chunk turn - CPU of a 1-chunk turn) /
  999, i.e. the relay loop itself); the direct rows show this process's CPU per chunk, the client
  library alone (the floor for the relay's own outbound read). The fake writes its chunks back to
  back, so a read holds many, and RoleCall relays the text of one read as one piece; the marginal
  figure is also taken with the chunks 0.5 ms apart, each its own read (a provider writing tokens
  as it makes them), and the CPU target is judged on that one
* server RSS per open stream (streams held open by a slow upstream) and RSS before/after all rounds
* the database work each path makes, timed from this process on the same database. Scene turn:
  the person's message (before the upstream call, so inside TTFT), the reply row (after the first
  token) and the final text; "added TTFT beyond the writes" = relay p50 - direct p50 - the
  user-message write. /v1: none on a warm call's path (the token check and the model name are
  cached, the usage row is written after the stream in batches); their cost on a miss is printed.
* fallback (c=1, interleaved with relay and direct-503): the scene's model answers 503 at once and
  the preset's next slot streams; "added by the fallback hop" = fallback p50 - relay p50 - the
  503 call itself (direct-503 p50), i.e. what walking on to the next slot costs (issue 12 target:
  <= 2 ms). `--fallback-only` runs just these three cases.

Targets (issue 11, and issue 14 for /v1): added TTFT p50 <= 1 ms at c=1 beyond the DB writes,
<= 30 us CPU per relayed chunk, >= 30% of the direct client's streams/s at c=32, memory flat per stream.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import httpx
import relay_report
from relay_db import api_db_work, scene_db_writes
from relay_parts import (
    AUTH,
    CHUNKS,
    CLIENT_LIMITS,
    DOWN,
    KEEPALIVE,
    LABEL,
    LITELLM_KEY,
    LONG,
    MODEL,
    PACE,
    App,
    Fake,
    Floor,
    LiteLLM,
    Server,
    Site,
    aio_openai_stream,
    browser_headers,
    default_preset,
    direct_503,
    litellm_python,
    new_scene,
    openai_stream,
    postgres_database,
    relay,
    set_up,
)

Results = dict[tuple[str, int], dict[str, list[float]]]


class Bench:
    def __init__(self, site: Site, fake: Fake, floor: Floor | None, base: Site | None = None,
                 litellm: LiteLLM | None = None) -> None:
        self.site, self.fake, self.floor, self.litellm = site, fake, floor, litellm
        self.http = httpx.AsyncClient(timeout=60, limits=CLIENT_LIMITS)
        # The load generator of every case but direct-httpx (see `relay_parts`); no cookie jar: the
        # relay's session cookie goes in its headers, one server's never reaches the other.
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=KEEPALIVE),
                                             cookie_jar=aiohttp.DummyCookieJar())
        # RoleCall cases -> the site they run on; every served case -> the process whose CPU counts
        self.sites = {"relay": site, "api": site, "fallback": site}
        cases = ["direct-httpx", "direct-aiohttp", *(["floor"] if floor is not None else []), "relay", "api"]
        if litellm is not None:
            cases.append("litellm")
        if base is not None:
            self.sites.update({"relay-baseline": base, "api-baseline": base})
            cases += ["relay-baseline", "api-baseline"]
        self.cases = tuple(cases)
        self.servers: dict[str, Server] = {case: s.app for case, s in self.sites.items()}
        if floor is not None:
            self.servers["floor"] = floor
        if litellm is not None:
            self.servers["litellm"] = litellm

    async def streams(self, case: str, concurrency: int) -> list[Callable[[], Coroutine[Any, Any, float]]]:
        """One function per worker that runs its next stream (and returns its TTFT)."""
        if case in ("relay", "relay-baseline", "fallback"):
            site = self.sites[case]
            headers = await browser_headers(site)
            scenes = [await new_scene(site, DOWN if case == "fallback" else MODEL) for _ in range(concurrency)]
            return [partial(relay, self.session, site, scene, headers) for scene in scenes]
        one: Callable[[], Coroutine[Any, Any, float]]
        if case.startswith("api"):
            site = self.sites[case]
            one = partial(aio_openai_stream, self.session, site.app.url + "/v1", f"{LABEL}/{MODEL}",
                          {"authorization": f"Bearer {site.token}"})
        elif case == "litellm":
            assert self.litellm is not None
            one = partial(aio_openai_stream, self.session, self.litellm.url, MODEL,
                          {"authorization": f"Bearer {LITELLM_KEY}"})
        elif case == "floor":
            assert self.floor is not None
            one = partial(aio_openai_stream, self.session, self.floor.url, MODEL, AUTH)
        elif case == "direct-httpx":
            one = partial(openai_stream, self.http, self.fake.url, MODEL, AUTH)
        elif case == "direct-503":
            one = partial(direct_503, self.session, self.fake.url)
        else:
            one = partial(aio_openai_stream, self.session, self.fake.url, MODEL, AUTH)
        return [one] * concurrency

    async def run_case(self, case: str, concurrency: int, per_worker: int) -> dict[str, float | list[float]]:
        """``concurrency`` workers, each doing ``per_worker`` streams back to back. CPU: the serving
        process's for a served case, else this process's (the client library reading the same chunks)."""
        streams = await self.streams(case, concurrency)
        server = self.servers.get(case)

        async def worker(one: Callable[[], Coroutine[Any, Any, float]]) -> list[float]:
            return [await one() for _ in range(per_worker)]

        def cpu() -> tuple[float, float]:
            return server.cpu() if server is not None else os.times()[:2]

        (u0, s0), wall0 = cpu(), time.perf_counter()
        results = await asyncio.gather(*(worker(one) for one in streams))
        wall, (u1, s1) = time.perf_counter() - wall0, cpu()
        ttfts = [t for r in results for t in r]
        return {"streams": len(ttfts), "wall": wall, "user": u1 - u0, "sys": s1 - s0, "ttfts": ttfts}

    async def rounds(self, rounds: int) -> Results:
        cases = self.cases
        shape = {1: 20, 32: 10}  # streams per worker (at c=32, 320 a round: 96 left the ratio swinging ±5 points)
        out: Results = {}
        for case in cases:  # warm-up: pools, imports, caches
            await self.run_case(case, 4, 2)
        for round_no in range(rounds):
            for concurrency, per_worker in shape.items():
                for case in rotated(cases, round_no):
                    r = await self.run_case(case, concurrency, per_worker)
                    slot = out.setdefault((case, concurrency), {"sps": [], "user": [], "sys": [], "ttfts": []})
                    slot["sps"].append(r["streams"] / r["wall"])  # type: ignore[operator]
                    slot["user"].append(r["user"] / (r["streams"] * CHUNKS))  # type: ignore[operator]
                    slot["sys"].append(r["sys"] / (r["streams"] * CHUNKS))  # type: ignore[operator]
                    slot["ttfts"] += r["ttfts"]  # type: ignore[arg-type]
        return out

    async def fallback_rounds(self, rounds: int) -> dict[str, list[float]]:
        """TTFTs at c=1 of relay, fallback and the failed call alone, interleaved within each round."""
        cases = ("relay", "fallback", "direct-503")
        for case in cases:
            await self.run_case(case, 1, 3)  # warm-up
        out: dict[str, list[float]] = {case: [] for case in cases}
        for round_no in range(rounds):
            for case in rotated(cases, round_no):
                out[case] += (await self.run_case(case, 1, 20))["ttfts"]  # type: ignore[arg-type]
        return out

    async def marginal_cpu(self, rounds: int, case: str, pace: float = 0.0) -> tuple[float, float]:
        """Server (user, system) CPU per relayed chunk without the per-turn costs: LONG-chunk turns
        minus 1-chunk turns, divided by the chunks between them (long turns: the 10 ms CPU clock
        tick and the per-turn noise shrink next to the relay loop). ``pace``: seconds between the
        fake's chunks; with it each chunk arrives on its own, as from a provider writing tokens as
        it makes them, where without it a read holds many (and RoleCall relays those as one)."""
        per: dict[tuple[int, str], list[float]] = {}
        for _ in range(rounds):
            for chunks in (LONG, 1):
                self.fake.set(chunks, pace)
                r = await self.run_case(case, 8, 2 if pace else 4)
                for part in ("user", "sys"):
                    per.setdefault((chunks, part), []).append(r[part] / r["streams"])  # type: ignore[operator]
        self.fake.set(CHUNKS)
        user, sys_ = ((statistics.median(per[(LONG, p)]) - statistics.median(per[(1, p)])) / (LONG - 1)
                      for p in ("user", "sys"))
        return user, sys_

    async def rss_per_stream(self, case: str, open_streams: int = 64) -> tuple[float, float]:
        """(idle RSS MiB, extra KiB per open stream) with streams held open by a slow upstream."""
        server = self.servers[case]
        self.fake.set(CHUNKS, 0.06)  # ~3 s per stream
        streams = await self.streams(case, open_streams)
        idle = server.rss_mib()
        tasks = [asyncio.create_task(one()) for one in streams]
        await asyncio.sleep(1.5)
        busy = server.rss_mib()
        await asyncio.gather(*tasks)
        self.fake.set(CHUNKS, 0.0)
        return idle, (busy - idle) * 1024 / open_streams

    async def close(self) -> None:
        await self.http.aclose()
        await self.session.close()
        for site in {id(s): s for s in self.sites.values()}.values():
            await site.client.aclose()


def rotated(cases: tuple[str, ...], round_no: int) -> tuple[str, ...]:
    """The order for one round: whichever case runs first after a switch pays for it, so each takes a turn."""
    shift = round_no % len(cases)
    return cases[shift:] + cases[:shift]


async def measure(label: str, database_url: str | None, rounds: int, baseline: Path | None = None,
                  baseline_url: str | None = None, fallback_only: bool = False, litellm: str | None = None) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    base_dir = Path(tempfile.mkdtemp(prefix="bench-relay-baseline-"))
    fake = Fake()
    app = App(data_dir, database_url)
    base_app = App(base_dir, baseline_url, checkout=baseline) if baseline else None
    proxy = LiteLLM(litellm, fake.url) if litellm and not fallback_only else None
    floor = Floor(fake.url) if not fallback_only else None  # the fallback case does not read against it
    try:
        site = await set_up(app, fake)
        await default_preset(site)
        base = await set_up(base_app, fake) if base_app is not None else None
        if base is not None:  # the same account on both: a default preset's chain is read every turn
            await default_preset(base)
        if proxy is not None:
            await proxy.ready()
        if floor is not None:
            await floor.ready()
        bench = Bench(site, fake, floor, base, proxy)
        if fallback_only:
            relay_report.fallback(label, await bench.fallback_rounds(rounds))
            await bench.close()
            return
        rss_start = app.rss_mib()
        results = await bench.rounds(rounds)
        fallback = await bench.fallback_rounds(rounds)
        served = [case for case in bench.cases if case in bench.servers]
        marginal = {case: await bench.marginal_cpu(rounds, case) for case in served}
        paced = {case: await bench.marginal_cpu(rounds, case, PACE) for case in served if case != "litellm"}
        memory = {case: await bench.rss_per_stream(case) for case in served
                  if not case.endswith("-baseline") and case != "floor"}
        rss_end = app.rss_mib()
        writes = await scene_db_writes(site)
        api_work = await api_db_work(site)
        await bench.close()
    finally:
        for server in (app, base_app, proxy, floor):
            if server is not None:
                server.stop()
        fake.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(base_dir, ignore_errors=True)
        if proxy is not None:
            shutil.rmtree(proxy.dir, ignore_errors=True)

    report = relay_report.Report(label, rounds, results, marginal, paced, memory, writes, api_work, (rss_start, rss_end))
    report.print(litellm_present=proxy is not None)
    relay_report.fallback(label, fallback)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fallback-only", action="store_true", help="only the fallback case (and its references)")
    parser.add_argument("--baseline", type=Path, help="another checkout to run as the cases relay-baseline, api-baseline")
    parser.add_argument("--litellm-python", help="an interpreter with litellm[proxy] installed (default: this one)")
    args = parser.parse_args()
    baseline = args.baseline.resolve() if args.baseline else None
    litellm = None if args.fallback_only else litellm_python(args.litellm_python)
    if args.db in ("sqlite", "both"):
        await measure("SQLite", None, args.rounds, baseline, fallback_only=args.fallback_only, litellm=litellm)
    if args.db in ("postgres", "both"):
        databases = [await postgres_database() for _ in range(2 if baseline else 1)]
        try:
            await measure("PostgreSQL", databases[0][0], args.rounds, baseline, databases[-1][0] if baseline else None,
                          fallback_only=args.fallback_only, litellm=litellm)
        finally:
            for _, drop in databases:
                await drop()


if __name__ == "__main__":
    asyncio.run(main())
