"""SQLite on the event loop's own thread, in the shape of an aiosqlite connection, for SQLAlchemy's
`sqlite+aiosqlite` dialect (passed as the engine's ``async_creator``).

Why not aiosqlite itself: it runs every call on a worker thread and wakes the event loop with each
answer, and SQLAlchemy makes four or five such calls per statement (cursor, execute, fetch, close).
On a 2-core machine a session of one point read cost ~690 µs and one of four ~2.1 ms, where `sqlite3`
answers each statement in ~4 µs (`bench/bench_sqlite_calls.py`); a scene turn makes eight statements
before its reply is stored. Running the calls inline removes the hops (docs/decisions.md, "SQLite
calls run on the event loop").

What inline costs, and how it is kept safe:
- A statement blocks the loop while it runs. RoleCall's statements are point reads and small writes
  by key (microseconds); the largest, a config's model list, is one row.
- Waiting for a lock must never block the loop: the lock holder may be a coroutine on this same
  loop, which could then never finish. So SQLite's own busy wait is off (``timeout=0``), and a call
  that finds the database locked (SQLITE_BUSY) is retried after an asyncio sleep, with backoff, until
  the connection's ``timeout`` (the engine's 30 s) has passed; then the error goes to the caller as
  before. Any other error, SQLITE_BUSY_SNAPSHOT included (retrying cannot cure it), is raised at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
FIRST_PAUSE = 0.001  # seconds before the first retry of a locked call; doubles up to LONGEST_PAUSE
LONGEST_PAUSE = 0.05


async def connect(database: str, *, timeout: float = 5.0, **kwargs: Any) -> Connection:
    """Open ``database`` as `sqlite3.connect` would (same arguments), without SQLite's busy wait."""
    return Connection(sqlite3.connect(database, timeout=0, **kwargs), timeout)


async def unlocked(call: Callable[..., T], timeout: float, *args: Any) -> T:
    """``call(*args)``, retried while the database is locked (see the module's notes)."""
    deadline = 0.0
    pause = FIRST_PAUSE
    while True:
        try:
            return call(*args)
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
                raise
            now = time.monotonic()
            deadline = deadline or now + timeout
            if now >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)


class Cursor:
    """An aiosqlite-shaped cursor over a `sqlite3.Cursor`."""

    def __init__(self, cursor: sqlite3.Cursor, timeout: float) -> None:
        self._cursor = cursor
        self._timeout = timeout

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        await unlocked(self._cursor.execute, self._timeout, sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Cursor:
        await unlocked(self._cursor.executemany, self._timeout, sql, list(parameters))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunNow:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's isolation-level setter uses."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # handed to the awaiting caller, as aiosqlite does
            future.set_exception(exc)


class Connection:
    """An aiosqlite-shaped connection over a `sqlite3.Connection`."""

    _tx = _RunNow()

    def __init__(self, connection: sqlite3.Connection, timeout: float) -> None:
        # SQLAlchemy's adapter reads `_connection` (None once closed) and `_conn`, as aiosqlite names them.
        self._connection: sqlite3.Connection | None = connection
        self._conn = connection
        self._timeout = timeout

    def cursor(self) -> Cursor:
        return Cursor(self._conn.cursor(), self._timeout)

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await unlocked(self._conn.commit, self._timeout)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any], *,
                              deterministic: bool = False) -> None:
        self._conn.create_function(name, num_params, func, deterministic=deterministic)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate)."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level
