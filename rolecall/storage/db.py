"""The async engine and session factory: SQLite by default, PostgreSQL via DATABASE_URL.

The SQLite file holds password hashes, session hashes and sealed keys: the data dir is created
0700 and the database file 0600 before SQLite opens it. SQLite creates its -wal and -shm files
with the mode of the database file, so they are 0600 too; files from an older install are
tightened to 0600 on start.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Result, event, make_url, text
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from rolecall.storage import direct, sqlite_inline

# The session factory every service takes as ``db``.
Sessions = async_sessionmaker[AsyncSession]
RECYCLE_SECONDS = 300
DIRECT_LIMIT = 20  # open connections of `storage/direct.py` per engine on PostgreSQL
SQLITE_TIMEOUT = 30  # seconds a SQLite call waits for a lock held by another connection


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, async_creator=_inline_sqlite(url))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        direct.attach_sqlite(engine.sync_engine, _direct_sqlite(url), timeout=SQLITE_TIMEOUT)
        return engine
    # No pre-ping: it cost a round trip per session (~6 per scene turn). A connection the server
    # dropped fails its first statement instead; SQLAlchemy then invalidates the whole pool, so a
    # database restart costs one failed request per process. Recycling bounds a connection's age
    # below common idle cut-offs (proxies, PgBouncer, cloud load balancers).
    engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_recycle=RECYCLE_SECONDS)
    if engine.dialect.driver == "asyncpg":
        # Beside the pool's 30 at most; the server's default max_connections is 100.
        direct.attach_postgres(engine.sync_engine, recycle=RECYCLE_SECONDS, limit=DIRECT_LIMIT)
    return engine


def _inline_sqlite(url: str) -> Callable[[], Awaitable[sqlite_inline.Connection]]:
    """Connections for the URL's database from `sqlite_inline`, which stands in for aiosqlite (the
    dialect the URL names), with the arguments SQLAlchemy would hand aiosqlite."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    return functools.partial(sqlite_inline.connect, *args, **{**kwargs, "timeout": SQLITE_TIMEOUT})


def _direct_sqlite(url: str) -> Callable[[], sqlite3.Connection]:
    """Autocommit connections to the URL's database for `direct`: no busy wait (`direct` retries
    locked calls as `sqlite_inline` does), the engine's pragmas."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))

    def connect() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(str(args[0]), **{**kwargs, "timeout": 0, "isolation_level": None})
        _sqlite_pragmas(connection, None)
        return connection
    return connect


def make_sessionmaker(engine: AsyncEngine) -> Sessions:
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: AsyncEngine) -> Sessions:
    """Sessions for reads only, on PostgreSQL without a transaction around them: no BEGIN and
    ROLLBACK round trips (two of a one-read session's three), and each statement sees the latest
    commits, as SQLite's reads outside a write transaction already do. Never write in one: each
    statement would commit on its own."""
    if engine.dialect.name != "postgresql":
        return make_sessionmaker(engine)
    return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))


def rowcount(result: Result[Any]) -> int:
    """Rows a DELETE or UPDATE touched (its result is a CursorResult at run time)."""
    return cast("CursorResult[Any]", result).rowcount or 0


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database does not answer a trivial query."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # WAL lets readers and the one writer work at once; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) readable by this user only; an existing dir is kept as is."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask; say it exactly


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    database = Path(path)
    make_private_dir(database.parent)
    # Create the file ourselves, owner-only, so SQLite (and its -wal/-shm, which copy the
    # database file's mode) never makes it world-readable. Only a missing one: closing any
    # descriptor of the file drops every POSIX lock this process holds on it, so an engine already
    # open here would lose its WAL lock, and another process closing its last connection would
    # delete the WAL that engine still writes to (its writes then never reach other processes).
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for name in (database, Path(f"{database}-wal"), Path(f"{database}-shm"), Path(f"{database}-journal")):
        if name.exists() and name.stat().st_mode & 0o077:
            os.chmod(name, 0o600)
