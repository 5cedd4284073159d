"""What one hot statement costs per use: through a SQLAlchemy session, through `storage/direct.py`,
and on the bare driver (the floor, outside our code), warm and after idleness.

Run: python bench/bench_statements.py [--db sqlite|postgres|both] [--rounds 9] [--n 200]

Statements, the ones every request of a kind makes, on RoleCall's own schema (migrated):
* sign-in lookup: the session's account (`accounts._SESSION_ACCOUNT`), a read;
* Test verdict: the status UPDATE of a Test Key (`provider_configs._VERDICT.status`), a write,
  on a config that holds a 250-model list as a real one does.

Paths:
* session: the statement through an `AsyncSession` (the read through the engine's read sessions,
  the write in `begin()`), as services ran it before `direct`;
* direct: `direct.first` / `direct.write`, as services run it now;
* driver: the compiled SQL on a plain `sqlite3` connection (autocommit) or a held asyncpg
  connection, no SQLAlchemy (what no Python code of ours can beat).

Modes: warm (calls back to back), and idle (5 ms asleep on the event loop before each call: a
person's request arrives after a pause, and on a 2-core VM the caches are cold by then; this is
the figure a user meets). Cases are interleaved in every round (the order rotates); prints the
median over rounds of each round's median, and the ratio to the driver.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relay_parts import postgres_database

from rolecall.services import accounts
from rolecall.services.provider_configs import _VERDICT
from rolecall.storage import direct, migrate
from rolecall.storage.db import Sessions, make_engine, make_read_sessionmaker, make_sessionmaker
from rolecall.storage.tables import ProviderConfig

IDLE = 0.005
MODELS = [{"id": f"vendor/model-{n}", "name": None, "context_window": None, "capabilities": [], "free": False}
          for n in range(250)]

Case = Callable[[], Awaitable[Any]]


async def _set_up(db: Sessions) -> tuple[str, str]:
    account = await accounts.sign_up(db, "bench", "benchmark password")
    token = await accounts.start_session(db, account.id, 7)
    async with db.begin() as s:
        s.add(ProviderConfig(id="cfg", account_id=account.id, provider_id="openai", label="bench", privacy_mode="srv",
                             base_url="https://api.example.com/v1", dest_origin="https://api.example.com",
                             models=MODELS, models_count=len(MODELS)))
    return token, "cfg"


def _verdict(config_id: str) -> dict[str, Any]:
    return {"id_": config_id, "status_": "valid", "detail_": "", "now_": datetime.now(UTC)}


async def _driver_cases(url: str, db: Sessions, lookup: dict[str, Any]) -> tuple[dict[str, Case], Callable[[], Awaitable[None]]]:
    engine = db.kw["bind"]
    read = accounts._SESSION_ACCOUNT.compiled(engine.dialect)
    write = _VERDICT.status.compiled(engine.dialect)
    if url.startswith("sqlite"):
        raw = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
        raw.execute("PRAGMA synchronous=NORMAL")

        async def read_sqlite() -> Any:
            return raw.execute(read.sql, read.parameters(lookup)).fetchone()

        async def write_sqlite() -> Any:
            return raw.execute(write.sql, write.parameters(_verdict("cfg"))).rowcount

        async def close_sqlite() -> None:
            raw.close()
        return {"sign-in lookup": read_sqlite, "Test verdict": write_sqlite}, close_sqlite
    import asyncpg

    held = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))

    async def read_pg() -> Any:
        return await held.fetchrow(read.sql, *read.parameters(lookup))

    async def write_pg() -> Any:
        return await held.execute(write.sql, *write.parameters(_verdict("cfg")))
    return {"sign-in lookup": read_pg, "Test verdict": write_pg}, held.close


async def _measure(url: str, rounds: int, n: int) -> None:
    engine = make_engine(url)
    await migrate.upgrade(engine)
    db, reads = make_sessionmaker(engine), make_read_sessionmaker(engine)
    token, config_id = await _set_up(db)
    lookup = {"token": accounts._token_hash(token), "now": datetime.now(UTC)}

    async def session_read() -> Any:
        async with reads() as s:
            return (await s.execute(accounts._SESSION_ACCOUNT.statement, lookup)).first()

    async def session_write() -> Any:
        async with db.begin() as s:
            return await s.execute(_VERDICT.status.statement, _verdict(config_id))

    async def direct_read() -> Any:
        return await direct.first(reads, accounts._SESSION_ACCOUNT, lookup)

    async def direct_write() -> Any:
        return await direct.write(db, _VERDICT.status, _verdict(config_id))

    drivers, close = await _driver_cases(url, db, lookup)
    cases = {("sign-in lookup", "session"): session_read, ("sign-in lookup", "direct"): direct_read,
             ("sign-in lookup", "driver"): drivers["sign-in lookup"],
             ("Test verdict", "session"): session_write, ("Test verdict", "direct"): direct_write,
             ("Test verdict", "driver"): drivers["Test verdict"]}
    assert (await direct_read()) is not None and (await session_read()) is not None
    medians: dict[tuple[str, str, str], list[float]] = {}
    names = list(cases)
    for round_no in range(rounds):
        for mode, pause in (("warm", 0.0), ("idle", IDLE)):
            for key in names[round_no % len(names):] + names[:round_no % len(names)]:
                call, times = cases[key], []
                for _ in range(n):
                    if pause:
                        await asyncio.sleep(pause)
                    started = time.perf_counter()
                    await call()
                    times.append((time.perf_counter() - started) * 1e6)
                medians.setdefault((*key, mode), []).append(statistics.median(times))
    await close()
    await engine.dispose()
    kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(f"\n{kind}: µs per use, median of {rounds} rounds × {n} calls (ratio to the bare driver)")
    print(f"  {'statement':<16} {'mode':<5} {'session':>16} {'direct':>16} {'driver':>8}")
    for statement in ("sign-in lookup", "Test verdict"):
        for mode in ("warm", "idle"):
            got = {path: statistics.median(medians[(statement, path, mode)]) for path in ("session", "direct", "driver")}
            floor = got["driver"]
            print(f"  {statement:<16} {mode:<5} {got['session']:8.0f} ({got['session'] / floor:4.1f}x) "
                  f"{got['direct']:8.0f} ({got['direct'] / floor:4.1f}x) {floor:8.0f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            await _measure(f"sqlite+aiosqlite:///{tmp}/data/rolecall.db", args.rounds, args.n)
    if args.db in ("postgres", "both"):
        url, drop = await postgres_database()
        try:
            await _measure(url, args.rounds, args.n)
        finally:
            await drop()


if __name__ == "__main__":
    asyncio.run(main())
