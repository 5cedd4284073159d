"""A turn in a long scene: time to first token and server CPU, against a scene that just began.

A long roleplay reaches a thousand messages; each turn reads the history it may send. This bench
grows one scene per case to ``--messages`` messages (the person's lines ~150 characters, the
character's ~900, written straight into the database), then runs scene turns at c=1 through
`rolecall serve` against the bench's fake upstream (50-chunk replies), in interleaved rounds:

* long-8k: the long scene on a model RoleCall knows nothing about (an 8,192-token window: a local
  model's), so a few dozen messages fit;
* long-128k: the long scene on gpt-4o-mini (128k tokens), which takes several hundred;
* short: a scene of a few messages, the same turn without the history;
* direct-aiohttp: the fake read straight from this process, the reference outside our code.

With ``--baseline DIR`` a second `rolecall serve` from another checkout runs the same cases in the
same rounds. Prints per case the TTFT p50 (median of the rounds' medians), the server's CPU per
turn (its /proc total over all turns of the case) and, with a baseline, the ratio to it.

Run: `python bench/bench_long_scene.py [--db sqlite|postgres|both] [--messages 1000] [--rounds 5] [--baseline DIR]`
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from relay_parts import (
    AUTH,
    KEEPALIVE,
    MODEL,
    App,
    Fake,
    Site,
    aio_openai_stream,
    browser_headers,
    new_scene,
    postgres_database,
    relay,
    set_up,
)
from sqlalchemy import insert

from rolecall.storage.db import make_engine
from rolecall.storage.scene_tables import Message, MessageAlternative
from rolecall.storage.tables import new_id, utcnow

SMALL_WINDOW_MODEL = "local-roleplay"  # not in the curated facts: the default 8,192-token window
CASES = ("long-8k", "long-128k", "short")
TURNS = 10  # per case and round


async def grow(database_url: str, account_id: str, scene_id: str, count: int) -> None:
    """``count`` messages after the scene's first, the person and the character in turn."""
    engine = make_engine(database_url)
    now = utcnow()
    messages, texts = [], []
    for n in range(1, count + 1):
        mid = new_id()
        user = n % 2 == 1
        messages.append({"id": mid, "scene_id": scene_id, "account_id": account_id, "position": n,
                         "role": "user" if user else "assistant", "active": 0, "created_at": now, "updated_at": now})
        line = f"Line {n}: " + ("I step closer to the lamp and ask about the storm. " * 3 if user
                                else "The keeper turns the wick down and tells of ships lost on the reef. " * 13)
        texts.append({"id": new_id(), "message_id": mid, "idx": 0, "text": line, "status": "complete",
                      "created_at": now, "updated_at": now})
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Message), messages)
            await conn.execute(insert(MessageAlternative), texts)
    finally:
        await engine.dispose()


class Server:
    """One `rolecall serve` with its account and a scene per case."""

    def __init__(self, name: str, app: App, site: Site, scenes: dict[str, str], headers: dict[str, str]) -> None:
        self.name, self.app, self.site, self.scenes, self.headers = name, app, site, scenes, headers

    @classmethod
    async def start(cls, name: str, app: App, fake: Fake, messages: int) -> Server:
        site = await set_up(app, fake)
        account_id = (await site.client.get("/api/me")).json()["id"]
        scenes = {"long-8k": await new_scene(site, SMALL_WINDOW_MODEL), "long-128k": await new_scene(site, MODEL),
                  "short": await new_scene(site, MODEL)}
        for case in ("long-8k", "long-128k"):
            await grow(app.database_url, account_id, scenes[case], messages)
        return cls(name, app, site, scenes, await browser_headers(site))


async def run(db: str, messages: int, rounds: int, baseline: Path | None) -> None:
    fake = Fake()
    drops = []
    urls = []
    for _ in range(2 if baseline else 1):
        if db == "postgres":
            url, drop = await postgres_database()
            urls.append(url)
            drops.append(drop)
        else:
            urls.append(None)
    dirs = [Path(tempfile.mkdtemp(prefix="bench-long-")) for _ in urls]
    apps = [App(dirs[0], urls[0])] + ([App(dirs[1], urls[1], checkout=baseline)] if baseline else [])
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50, keepalive_timeout=KEEPALIVE),
                                    cookie_jar=aiohttp.DummyCookieJar())
    try:
        servers = [await Server.start("this", apps[0], fake, messages)]
        if baseline:
            servers.append(await Server.start("baseline", apps[1], fake, messages))
        ttft: dict[str, list[float]] = {}
        cpu: dict[str, float] = {}
        turns: dict[str, int] = {}
        for round_no in range(rounds + 1):  # round 0 warms up and is not counted
            order = servers if round_no % 2 else list(reversed(servers))
            for server in order:
                for case in CASES:
                    key = f"{case} ({server.name})"
                    scene = server.scenes[case]
                    before, times = sum(server.app.cpu()), []
                    for _ in range(TURNS):
                        times.append(await relay(session, server.site, scene, server.headers))
                        await asyncio.sleep(0.005)
                    if round_no:
                        ttft.setdefault(key, []).append(statistics.median(times) * 1000)
                        cpu[key] = cpu.get(key, 0.0) + sum(server.app.cpu()) - before
                        turns[key] = turns.get(key, 0) + TURNS
            direct = [await aio_openai_stream(session, fake.url, MODEL, AUTH) for _ in range(TURNS)]
            if round_no:
                ttft.setdefault("direct-aiohttp", []).append(statistics.median(direct) * 1000)
        report(db, messages, rounds, ttft, cpu, turns, bool(baseline))
    finally:
        await session.close()
        for server_app in apps:
            server_app.stop()
        fake.stop()
        for drop in drops:
            await drop()
        for path in dirs:
            shutil.rmtree(path, ignore_errors=True)


def report(db: str, messages: int, rounds: int, ttft: dict[str, list[float]], cpu: dict[str, float],
           turns: dict[str, int], with_baseline: bool) -> None:
    print(f"\n== {db}: scenes of {messages} messages (+2 per turn), {rounds} rounds x {TURNS} turns per case, c=1 ==")
    print(f"{'case':26s} {'TTFT p50':>10s} {'CPU/turn':>10s} {'vs baseline':>24s}")
    for key in sorted(ttft):
        p50 = statistics.median(ttft[key])
        per_turn = cpu[key] / turns[key] * 1000 if key in cpu else None
        versus = ""
        if with_baseline and key.endswith("(this)"):
            base = key.replace("(this)", "(baseline)")
            versus = (f"TTFT x{p50 / statistics.median(ttft[base]):.2f}, "
                      f"CPU x{cpu[key] / turns[key] / (cpu[base] / turns[base]):.2f}")
        cpu_text = f"{per_turn:8.2f}ms" if per_turn is not None else f"{'':10s}"
        print(f"{key:26s} {p50:8.2f}ms {cpu_text} {versus:>24s}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--baseline", type=Path, help="another checkout to run beside this one")
    args = parser.parse_args()
    started = time.perf_counter()
    for db in (("sqlite", "postgres") if args.db == "both" else (args.db,)):
        await run(db, args.messages, args.rounds, args.baseline)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
