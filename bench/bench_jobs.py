"""Job throughput and queue latency through real `rolecall worker` processes on Redis.

A FakeOpenAI runs in a child process. Three workers run as `python -m rolecall worker`: one on
queue A, two on queue B (separate Redis prefixes, one database). Each round, in the same order:

* bare: the same number of `GET /v1/models` calls straight from this process (httpx, 10 at a
  time): the upstream work alone, outside our code;
* one: N `refresh_models` jobs (one upstream call each) submitted to queue A, one worker;
* two: N jobs to queue B, two workers.

Per case: jobs per second (N over first submit to last finish) and queue latency, enqueue to
start (the row's ``started_at - created_at``), p50 and p99. Prints medians over the rounds and
each case's throughput against the bare calls.

Then group-scene turns (docs/group-scenes.md), through the same workers: S group scenes of two
characters each get one message at once; each answers with T turns (`group_turn` jobs, one turn
after another within a scene, the scenes in parallel), streamed from the fake. Per case: turns
per second (S x T over the first message to the last round's end) and queue latency from enqueue
to first token (the job row's ``created_at`` to the turn's first ``delta`` heard on the scene's
Redis pub/sub channel, as a browser would), p50 and p99.

Run: `python bench/bench_jobs.py [rounds] [jobs_per_round] [group_scenes] [turns_per_scene]` (DATABASE_URL for PostgreSQL, which
then needs ROLECALL_ENCRYPTION_KEYS; default SQLite in a temporary dir).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from rolecall.config import Settings  # noqa: E402
from rolecall.resources import open_resources  # noqa: E402
from rolecall.services import accounts, cast, characters, group_turns, jobs, scenes  # noqa: E402
from rolecall.services.resources import Resources  # noqa: E402
from rolecall.storage.tables import JobRecord, utcnow  # noqa: E402
from tests.factories import add_provider_config  # noqa: E402

KEY = "sk-test-VALID-0123456789abcdefghijklmnop"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def _serve(conn: Any) -> None:
    from tests.fakes.openai_compat import FakeOpenAI

    class QuietFake(FakeOpenAI):
        async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            await super()._asgi(scope, receive, send)
            self.requests.clear()

    fake = QuietFake().start()
    conn.send(fake.port)
    conn.recv()
    fake.stop()


def _env(data_dir: Path, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_")}
    env.update({"PYTHONPATH": str(ROOT), "ROLECALL_DATA_DIR": str(data_dir), "REDIS_URL": REDIS_URL,
                "ROLECALL_REDIS_PREFIX": prefix, "ROLECALL_LOG_LEVEL": "WARNING",
                "ROLECALL_NETWORK__ALLOW_PRIVATE": '["127.0.0.0/8"]',
                "ROLECALL_LIMITS__OUTBOUND_PER_ACCOUNT": "1000", "ROLECALL_LIMITS__OUTBOUND_PER_ORIGIN": "1000"})
    if os.environ.get("ROLECALL_ENCRYPTION_KEYS"):
        env["ROLECALL_ENCRYPTION_KEYS"] = os.environ["ROLECALL_ENCRYPTION_KEYS"]
    return env


def _settings(data_dir: Path, prefix: str) -> Settings:
    return Settings(data_dir=data_dir, redis_url=REDIS_URL, redis_prefix=prefix,
                    database_url=os.environ.get("DATABASE_URL") or None,
                    network={"allow_private": ["127.0.0.0/8"]},
                    limits={"outbound_per_account": 1000, "outbound_per_origin": 1000})


async def _round(res: Resources, account_id: str, config_id: str, n: int) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    ids = [await jobs.submit(res, "refresh_models", {"config_id": config_id}, account_id=account_id)
           for _ in range(n)]
    while True:
        async with res.db() as s:
            rows = list(await s.scalars(select(JobRecord).where(JobRecord.id.in_(ids))))
        if all(r.status in ("done", "failed") for r in rows):
            break
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - t0
    latencies = [(r.started_at - r.created_at).total_seconds() * 1000 for r in rows if r.started_at]
    return n / elapsed, latencies


async def _group_scenes(res: Resources, account_id: str, config_id: str, count: int, turns: int) -> list[str]:
    ids = []
    for i in range(count):
        cast_ids = [(await characters.create(res.db, account_id, {"name": name, "persona": "A regular."})).id
                    for name in (f"Ada{i}", f"Bram{i}")]
        scene = await scenes.create_scene(res.db, account_id, f"Bench {i}", cast_ids)
        await scenes.update_scene(res.db, account_id, scene.id, {"model": {"section": config_id,
                                                                            "model_id": "gpt-4o-mini"}})
        await cast.update_group(res.db, account_id, scene.id, {"turn_limit": turns})
        ids.append(scene.id)
    return ids


async def _group_round(res: Resources, account_id: str, scene_ids: list[str], turns: int) -> tuple[float, list[float]]:
    """One message to every scene; (turns per second, enqueue-to-first-token latencies in ms)."""
    first_token: dict[str, Any] = {}  # job id -> when its first delta was heard
    ended: set[str] = set()

    async def watch(scene_id: str, ready: asyncio.Event) -> None:
        async with res.pubsub.subscribe(group_turns.channel(scene_id)) as heard:
            ready.set()
            job_id = None
            async for message in heard:
                if message["e"] == "turn_started":
                    job_id = message["d"]["job_id"]
                elif message["e"] == "delta" and job_id is not None and job_id not in first_token:
                    first_token[job_id] = utcnow()
                elif message["e"] == "stopped":
                    ended.add(scene_id)
                    return

    readies = [asyncio.Event() for _ in scene_ids]
    watchers = [asyncio.create_task(watch(sid, ready)) for sid, ready in zip(scene_ids, readies, strict=True)]
    await asyncio.gather(*(r.wait() for r in readies))
    t0 = time.perf_counter()
    for scene_id in scene_ids:
        await group_turns.say(res, account_id, scene_id, "Evening, both of you.")
    try:
        await asyncio.wait_for(asyncio.gather(*watchers), timeout=60)
    finally:
        for w in watchers:
            w.cancel()
    elapsed = time.perf_counter() - t0
    async with res.db() as s:
        created = dict((await s.execute(select(JobRecord.id, JobRecord.created_at)
                                        .where(JobRecord.id.in_(list(first_token))))).all())
    latencies = [(first_token[j] - created[j]).total_seconds() * 1000 for j in first_token if j in created]
    return len(scene_ids) * turns / elapsed, latencies


async def _bare(url: str, n: int) -> float:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as client:
        gate = asyncio.Semaphore(10)

        async def one() -> None:
            async with gate:
                (await client.get(url)).raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*[one() for _ in range(n)])
        return n / (time.perf_counter() - t0)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(rounds: int, n: int, group_count: int = 10, turns: int = 2) -> None:
    parent, child = mp.Pipe()
    fake = mp.Process(target=_serve, args=(child,), daemon=True)
    fake.start()
    port = parent.recv()
    origin = f"http://127.0.0.1:{port}"
    tmp = tempfile.TemporaryDirectory()
    data_dir = Path(tmp.name) / "data"
    tag = secrets.token_hex(3)
    prefixes = {"one": f"bench-one-{tag}", "two": f"bench-two-{tag}"}
    workers: list[subprocess.Popen[bytes]] = []
    figures: dict[str, list[tuple[float, float, float]]] = {"bare": [], "one": [], "two": [],
                                                           "group one": [], "group two": []}
    try:
        async with open_resources(_settings(data_dir, prefixes["one"]), consume_jobs=False) as res_one, \
                open_resources(_settings(data_dir, prefixes["two"]), consume_jobs=False,
                               run_migrations=False) as res_two:
            account = await accounts.sign_up(res_one.db, "bench", "bench-password")
            config = await add_provider_config(res_one.db, account.id, mode="srv", ring=res_one.keyring,
                                               api_key=KEY, origin=origin)
            for case, count in (("one", 1), ("two", 2)):
                for _ in range(count):
                    workers.append(subprocess.Popen(  # noqa: ASYNC220 - started once, before timing
                        [sys.executable, "-m", "rolecall", "worker"], cwd=ROOT,
                                                    env=_env(data_dir, prefixes[case]),
                                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            await asyncio.sleep(6)  # workers up
            await _round(res_one, account.id, config.id, 10)  # warm-up
            await _round(res_two, account.id, config.id, 10)
            for r in range(rounds):
                figures["bare"].append((await _bare(origin + "/v1/models", n), 0.0, 0.0))
                for case, res in (("one", res_one), ("two", res_two)):
                    rate, lat = await _round(res, account.id, config.id, n)
                    figures[case].append((rate, _pct(lat, 0.5), _pct(lat, 0.99)))
                for case, res in (("group one", res_one), ("group two", res_two)):
                    scene_ids = await _group_scenes(res, account.id, config.id, group_count, turns)
                    rate, lat = await _group_round(res, account.id, scene_ids, turns)
                    figures[case].append((rate, _pct(lat, 0.5), _pct(lat, 0.99)))
                print(f"round {r + 1}: " + ", ".join(f"{c} {v[-1][0]:.0f}/s" for c, v in figures.items()), flush=True)
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=20)
        parent.send("stop")
        fake.join(timeout=10)
        tmp.cleanup()
    bare = statistics.median(f[0] for f in figures["bare"])
    print(f"\n{rounds} rounds of {n} jobs, medians; database: {'PostgreSQL' if os.environ.get('DATABASE_URL') else 'SQLite'}")
    print(f"group: {group_count} scenes x {turns} turns per round; group rates are turns/s, latency to first token")
    print(f"{'case':10} {'jobs/s':>8} {'vs bare':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for case, rows in figures.items():
        rate = statistics.median(f[0] for f in rows)
        p50 = statistics.median(f[1] for f in rows)
        p99 = statistics.median(f[2] for f in rows)
        print(f"{case:10} {rate:8.1f} {rate / bare:8.2f} {p50:8.1f} {p99:8.1f}")
    print(json.dumps({c: [list(f) for f in rows] for c, rows in figures.items()}))


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:5]]
    asyncio.run(main(*args) if args else main(5, 100))
