"""What a SQLAlchemy session costs on SQLite: aiosqlite's worker thread vs calls on the event loop.

Run: python bench/bench_sqlite_calls.py [--rounds 7] [--n 300]   (prints figures)

Cases, on one database file (WAL, as RoleCall opens it), interleaved within every round (the order
rotates each round) so machine noise hits them alike:

* aiosqlite: the stock `sqlite+aiosqlite` engine (every DB-API call a hop to aiosqlite's thread)
* inline: RoleCall's engine (`make_engine`: `storage/sqlite_inline.py`, calls run on the loop)
* sqlite3: the same statements on a plain `sqlite3` connection, no SQLAlchemy and no asyncio
  (the floor, outside our code)

Operations, the shapes a scene turn makes: a session with one point read (the sign-in check), a
session with four point reads (a turn's reads before its provider call), and a write transaction
of two inserts and an update (the person's message). Prints the median time of each, and inline's
ratio to aiosqlite and to sqlite3.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from rolecall.storage.db import make_engine, make_sessionmaker

SCHEMA = ("CREATE TABLE scene (id INTEGER PRIMARY KEY, title TEXT, touched REAL)",
          "CREATE TABLE message (id INTEGER PRIMARY KEY, scene_id INTEGER, body TEXT)")
READ = "SELECT title, touched FROM scene WHERE id = :id"
WRITES = ("INSERT INTO message (scene_id, body) VALUES (:id, 'hello')",
          "INSERT INTO message (scene_id, body) VALUES (:id, 'again')",
          "UPDATE scene SET touched = :id WHERE id = :id")
OPERATIONS = ("1 read", "4 reads", "write")


def sqlalchemy_case(sessions: async_sessionmaker) -> dict[str, Callable[[], Awaitable[None]]]:  # type: ignore[type-arg]
    read = text(READ)
    writes = [text(w) for w in WRITES]

    async def reads(n: int) -> None:
        async with sessions() as s:
            for i in range(n):
                (await s.execute(read, {"id": i + 1})).first()

    async def write() -> None:
        async with sessions.begin() as s:
            for statement in writes:
                await s.execute(statement, {"id": 1})

    return {"1 read": lambda: reads(1), "4 reads": lambda: reads(4), "write": write}


def sqlite3_case(path: Path) -> dict[str, Callable[[], Awaitable[None]]]:
    conn = sqlite3.connect(path, check_same_thread=False)
    read, writes = READ.replace(":id", "?"), [w.replace(":id", "?") for w in WRITES]

    async def reads(n: int) -> None:
        for i in range(n):
            conn.execute(read, (i + 1,)).fetchone()

    async def write() -> None:
        with conn:
            for statement in writes:
                conn.execute(statement, (1,) * statement.count("?"))

    return {"1 read": lambda: reads(1), "4 reads": lambda: reads(4), "write": write}


async def main(rounds: int, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data" / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        inline = make_engine(url)
        async with inline.begin() as conn:
            for statement in SCHEMA:
                await conn.execute(text(statement))
            await conn.execute(text("INSERT INTO scene (title, touched) VALUES ('a', 0), ('b', 0), ('c', 0), ('d', 0)"))
        stock = create_async_engine(url, connect_args={"timeout": 30})
        cases = {"aiosqlite": sqlalchemy_case(async_sessionmaker(stock, expire_on_commit=False)),
                 "inline": sqlalchemy_case(make_sessionmaker(inline)), "sqlite3": sqlite3_case(path)}
        for ops in cases.values():  # warm: connections open, statements compiled
            for op in ops.values():
                await op()
        medians: dict[tuple[str, str], list[float]] = {}
        names = list(cases)
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                for op_name, op in cases[name].items():
                    times = []
                    for _ in range(n):
                        start = time.perf_counter()
                        await op()
                        times.append(time.perf_counter() - start)
                    medians.setdefault((name, op_name), []).append(statistics.median(times))
        await inline.dispose()
        await stock.dispose()
    print(f"SQLite {sqlite3.sqlite_version}: median of {rounds} rounds x {n} calls, microseconds")
    print(f"{'operation':10} {'aiosqlite':>10} {'inline':>10} {'sqlite3':>10}  inline/aiosqlite  inline/sqlite3")
    for op_name in OPERATIONS:
        us = {name: statistics.median(medians[(name, op_name)]) * 1e6 for name in names}
        print(f"{op_name:10} {us['aiosqlite']:10.0f} {us['inline']:10.0f} {us['sqlite3']:10.0f}"
              f"  {us['inline'] / us['aiosqlite']:16.2f}  {us['inline'] / us['sqlite3']:14.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.n))
