"""SQLite calls run on the event loop (`rolecall.storage.sqlite_inline`): a write that finds the
database locked waits without blocking the loop, so the lock holder (often a coroutine on the same
loop) can finish; a lock held past the timeout still fails with SQLite's own error.

Run without the retry (SQLite's busy wait off and nothing else), the same-loop case fails at once
with "database is locked"; with SQLite's own busy wait on, it blocks the loop for the whole timeout
and then fails: either way the second write below is lost.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from rolecall.storage import sqlite_inline
from rolecall.storage.db import make_engine, make_sessionmaker


async def _engine(tmp_path: Path) -> AsyncEngine:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'rolecall.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE note (body TEXT NOT NULL)"))
    return engine


async def _bodies(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(text("SELECT body FROM note"))).scalars())


async def test_two_writers_on_one_loop_both_land(tmp_path: Path) -> None:
    engine = await _engine(tmp_path)
    sessions = make_sessionmaker(engine)
    holding = asyncio.Event()

    async def first() -> None:
        async with sessions.begin() as s:
            await s.execute(text("INSERT INTO note VALUES ('first')"))
            holding.set()
            await asyncio.sleep(0.2)  # still holding the write lock, as a turn awaiting its provider would

    async def second() -> None:
        await holding.wait()
        async with sessions.begin() as s:
            await s.execute(text("INSERT INTO note VALUES ('second')"))

    try:
        await asyncio.wait_for(asyncio.gather(first(), second()), timeout=20)
        assert await _bodies(engine) == ["first", "second"]
    finally:
        await engine.dispose()


async def test_a_lock_held_by_another_connection_is_waited_for_while_the_loop_runs(tmp_path: Path) -> None:
    engine = await _engine(tmp_path)
    other = sqlite3.connect(tmp_path / "data" / "rolecall.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO note VALUES ('other')")
    # The other connection lets go from a callback on this loop: if waiting for its lock blocked the
    # loop, the callback could never run and the write below would fail after the timeout.
    asyncio.get_running_loop().call_later(0.2, other.execute, "COMMIT")
    try:
        async with make_sessionmaker(engine).begin() as s:
            await s.execute(text("INSERT INTO note VALUES ('ours')"))
        assert await _bodies(engine) == ["other", "ours"]
    finally:
        other.close()
        await engine.dispose()


async def test_a_lock_held_past_the_timeout_fails_with_sqlites_error(tmp_path: Path) -> None:
    engine = await _engine(tmp_path)
    await engine.dispose()
    path = str(tmp_path / "data" / "rolecall.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    waiter = await sqlite_inline.connect(path, timeout=0.3)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await waiter.execute("INSERT INTO note VALUES ('late')")
        holder.execute("COMMIT")
        await waiter.execute("INSERT INTO note VALUES ('in time')")
        await waiter.commit()
        assert holder.execute("SELECT body FROM note").fetchall() == [("in time",)]
    finally:
        await waiter.close()
        holder.close()
