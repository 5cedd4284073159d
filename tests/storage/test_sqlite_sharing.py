"""Processes sharing one SQLite file see each other's writes (issue 13, item 7: the hanging bench).

`bench/bench_jobs.py` opens two engines on one SQLite file in one process. Opening the second
used to open and close the database file, which drops every POSIX lock the process holds on it,
the first engine's WAL lock included; a worker process closing its last connection then deleted
the WAL the first engine still wrote to, and the jobs it submitted were never seen by a worker.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from rolecall.storage.db import make_engine

COUNT = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "print(c.execute('SELECT count(*) FROM job').fetchone()[0]); c.close()")


def _seen_by_another_process(database: Path) -> int:
    """Open, read and close, as a worker starting and stopping does (its close may clean the WAL up)."""
    done = subprocess.run([sys.executable, "-c", COUNT, str(database)], capture_output=True, text=True,
                          check=True, timeout=60)
    return int(done.stdout)


async def test_a_second_engine_in_one_process_keeps_its_writes_visible_to_other_processes(tmp_path: Path) -> None:
    database = tmp_path / "data" / "rolecall.db"
    url = f"sqlite+aiosqlite:///{database}"
    first = make_engine(url)
    second = None
    try:
        async with first.begin() as conn:
            await conn.execute(text("CREATE TABLE job (id TEXT PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO job VALUES ('before')"))
        second = make_engine(url)  # the bench's second queue prefix, on the same file
        assert _seen_by_another_process(database) == 1
        async with first.begin() as conn:
            await conn.execute(text("INSERT INTO job VALUES ('after')"))
        assert _seen_by_another_process(database) == 2
        async with second.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM job"))).scalar() == 2
    finally:
        await first.dispose()
        if second is not None:
            await second.dispose()
