"""CPU and Python calls of what a scene turn reads before its upstream call (the session lookup
and `gateway.prepare`), this checkout against another, in alternating child processes.

Run: python bench/bench_turn_reads.py --baseline DIR [--db sqlite|postgres] [--pairs 3]

Each child builds its own app and database (a scene whose preset chains two Server-Accessible
configs, the scene's model the first), warms up, then prints the median CPU per lookup+prepare
over 8 batches of 100 (`time.process_time`), the median wall time per one (what a turn waits for:
on PostgreSQL the server's side too), and the Python function calls per one (cProfile,
deterministic: the steadier figure on a loaded machine).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def child() -> None:
    from asgi_lifespan import LifespanManager
    from pydantic import SecretStr

    from rolecall.app import create_app
    from rolecall.config import Settings
    from rolecall.services import accounts, gateway
    from tests.conftest import TEST_ENCRYPTION_KEYS, create_postgres_database, drop_postgres_database
    from tests.helpers import make_client, sign_up
    from tests.scene_helpers import post, scene_with, server_config, set_up_owner

    values: dict[str, Any] = {"data_dir": Path(tempfile.mkdtemp(prefix="bench-turn-reads-")) / "data",
                              "database_url": None}
    if os.environ.get("BENCH_PG"):
        values["database_url"] = await create_postgres_database(PG)
        values["encryption_keys"] = SecretStr(TEST_ENCRYPTION_KEYS)
    app = create_app(Settings(**values))
    try:
        async with LifespanManager(app), make_client(app) as c:
            await sign_up(c, "alice")
            owner = await set_up_owner(c)
            first, second = [await server_config(owner, "openai", "https://api.openai.com/v1", "sk-test-" + ch * 40)
                             for ch in "xy"]
            made = await post(c, "/api/presets", {"name": "p", "slots": [{"section": first, "model_id": "gpt-4o-mini"},
                                                                         {"section": second, "model_id": "gpt-4o"}]})
            assert made.status_code == 201, made.text
            scene_id = (await scene_with(c, section=first))["id"]
            res, token = app.state.res, c.cookies.get("rc_session") or ""

            # The lookup as the route makes it, in whichever form the checkout has (a baseline may
            # take no cache, or have no separate read sessions).
            lookup = [getattr(res, "reads", res.db)]
            if "cache" in inspect.signature(accounts.session_account).parameters:
                lookup.append(res.cache)

            async def reads(n: int) -> None:
                for _ in range(n):
                    await accounts.session_account(*lookup, token)
                    await gateway.prepare(res, owner.account_id, scene_id, "send", text="Go on.")

            await reads(50)
            prof = cProfile.Profile()
            prof.enable()
            await reads(100)
            prof.disable()
            batches, waits = [], []
            for _ in range(8):
                t0, w0 = time.process_time(), time.perf_counter()
                await reads(100)
                batches.append((time.process_time() - t0) / 100 * 1e6)
                waits.append((time.perf_counter() - w0) / 100 * 1e6)
        print(f"{pstats.Stats(prof).total_calls / 100:.0f} {statistics.median(batches):.0f} {statistics.median(waits):.0f}")
    finally:
        if values["database_url"]:
            await drop_postgres_database(values["database_url"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "BENCH_PG": "1" if args.db == "postgres" else ""}
    found: dict[str, list[tuple[float, float, float]]] = {"this": [], "baseline": []}
    for _ in range(args.pairs):
        for name, root in (("baseline", args.baseline.resolve()), ("this", HERE)):
            out = subprocess.run([sys.executable, __file__, "--child"], env={**env, "PYTHONPATH": str(root)},
                                 capture_output=True, text=True, check=True).stdout.split()
            found[name].append((float(out[-3]), float(out[-2]), float(out[-1])))
    for name, runs in found.items():
        cpu, wall = [r[1] for r in runs], [r[2] for r in runs]
        print(f"{args.db} {name:8}: {runs[0][0]:.0f} Python calls, CPU {statistics.median(cpu):.0f} us "
              f"per session lookup + prepare (per run: {[round(x) for x in cpu]}), wall {statistics.median(wall):.0f} us "
              f"(the time a turn waits for them, one at a time; per run: {[round(x) for x in wall]})")
    ratio = statistics.median(r[1] for r in found["this"]) / statistics.median(r[1] for r in found["baseline"])
    print(f"{args.db} this / baseline CPU: {ratio:.2f}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        asyncio.run(child())
    else:
        main()
