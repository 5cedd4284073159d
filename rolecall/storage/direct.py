"""The hottest statements, run straight on the database driver: a point read or a one-row write
that every request of a kind makes (the session lookup, opening a config, a Test's verdict).

Why: on a request that follows a few milliseconds of idleness (every request, for one person), a
use of SQLAlchemy's async session costs ~1.1 ms on SQLite and ~1.6 ms on PostgreSQL on a 2-core
machine (its code runs with cold caches), where the driver answers in ~0.12 / ~0.5 ms
(`bench/bench_statements.py`; docs/decisions.md, "Hot statements straight on the driver").

What stays the same: a `Query` is an ordinary SQLAlchemy Core statement, compiled once by the
engine's own dialect, with its parameters and results converted by the column types' own
processors (and Python-side column defaults filled in), so values go in and come out exactly as
through a session.

Semantics: each statement runs alone in autocommit (atomic), but for the writes of one
`transaction`; `together` awaits several reads at once where the database can run them at once.
SQLite: one connection per engine, inline on the event loop as `sqlite_inline` runs the engine's
own statements, retried while the database is locked in the same way. PostgreSQL: asyncpg
connections the engine's pool made, kept here, at most ``limit`` open at once; a transaction's
writes go as one statement, one round trip (`_one_statement`). Errors are the
driver's own: use a `Query` only where no error is expected and handled.
"""

from __future__ import annotations

import asyncio
import collections
import re
import sqlite3
import time
import weakref
from collections import namedtuple
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import ColumnDefault
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

from rolecall.storage import sqlite_inline

# The engine's async session factory (`db.Sessions`); typed loosely to keep `db` importing us.
SessionFactory = Any


class Query:
    """A Core statement for `first`, `rows` and `write`: no expanding (IN-list) parameters."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}  # by dialect name

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _Compiled(self.statement, dialect)
        return found


class _Compiled:
    """The SQL text and, per positional parameter, where its value comes from and its type's
    processor, for one dialect: worked out once, so a run only fills a list."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler) and compiled.positiontup is not None, "a positional dialect"
        assert not any(p.expanding for p in compiled.binds.values()), "no expanding parameters"
        self.sql = compiled.string
        # Python-side column defaults SQLAlchemy computes per execution (an `onupdate=utcnow`, say).
        defaults = {column.key: _python_default(column.default) for column in compiled.insert_prefetch}
        defaults |= {column.key: _python_default(column.onupdate) for column in compiled.update_prefetch}
        self.slots = tuple(
            (name, defaults.get(name), _REQUIRED if bind.required else bind.effective_value,
             _processor(bind.type, dialect, None))
            for name, bind in ((name, compiled.binds[name]) for name in compiled.positiontup))
        columns = getattr(statement, "selected_columns", None)
        keys = [c.key for c in columns] if columns is not None else []
        results = [_processor(c.type, dialect, "result") for c in columns] if columns is not None else []
        # Only the columns whose type converts a value (most come from the driver as they are).
        self.converts = tuple((i, convert) for i, convert in enumerate(results) if convert is not None)
        self.row: Any = namedtuple("Row", keys, rename=True) if keys else None

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, default, fixed, convert in self.slots:
            if name in values:
                value = values[name]
            elif default is not None:
                value = default.arg(None) if default.is_callable else default.arg
            elif fixed is not _REQUIRED:
                value = fixed
            else:
                raise KeyError(f"A value is required for bind parameter {name!r}")
            out.append(value if convert is None or value is None else convert(value))
        return out

    def make_row(self, raw: tuple[Any, ...]) -> Any:
        assert self.row is not None
        if not self.converts:
            return self.row._make(raw)
        values = list(raw)
        for i, convert in self.converts:
            if values[i] is not None:
                values[i] = convert(values[i])
        return self.row._make(values)


_REQUIRED = object()


def _python_default(default: Any) -> ColumnDefault:
    assert isinstance(default, ColumnDefault), "a Python-side column default"
    return default


def _processor(type_: Any, dialect: Dialect, kind: str | None) -> Callable[[Any], Any] | None:
    impl = type_.dialect_impl(dialect)
    if kind == "result":
        return impl.result_processor(dialect, None)  # type: ignore[no-any-return]
    return impl.bind_processor(dialect)  # type: ignore[no-any-return]


async def first(db: SessionFactory, query: Query, values: Mapping[str, Any]) -> Any:
    """The statement's first row (attribute access by column key), or None."""
    direct = _direct_for(db)
    if direct is None:
        async with db() as s:
            return (await s.execute(query.statement, dict(values))).first()
    compiled = query.compiled(direct.dialect)
    raw = await direct.run(compiled.sql, compiled.parameters(values), "one")
    return compiled.make_row(raw) if raw is not None else None


async def rows(db: SessionFactory, query: Query, values: Mapping[str, Any]) -> list[Any]:
    """Every row of the statement (attribute access by column key)."""
    direct = _direct_for(db)
    if direct is None:
        async with db() as s:
            return list((await s.execute(query.statement, dict(values))).all())
    compiled = query.compiled(direct.dialect)
    return [compiled.make_row(raw) for raw in await direct.run(compiled.sql, compiled.parameters(values), "all")]


async def write(db: SessionFactory, query: Query, values: Mapping[str, Any]) -> int:
    """Run an INSERT, UPDATE or DELETE as its own transaction; the number of rows it touched."""
    direct = _direct_for(db)
    if direct is None:
        async with db.begin() as s:
            result = await s.execute(query.statement, dict(values))
        return int(getattr(result, "rowcount", 0) or 0)
    compiled = query.compiled(direct.dialect)
    return int(await direct.run(compiled.sql, compiled.parameters(values), "count"))


async def transaction(db: SessionFactory, steps: Sequence[tuple[Query, Mapping[str, Any]]]) -> list[int]:
    """Run INSERTs, UPDATEs and DELETEs as one transaction (all of them or none); the rows each touched.

    No step may read or change what another step writes: on PostgreSQL the steps run as one
    statement (`_one_statement`), whose parts see one snapshot. A step may insert a row that refers
    to one another step inserts."""
    direct = _direct_for(db)
    if direct is None:
        async with db.begin() as s:
            return [int(getattr(await s.execute(q.statement, dict(v)), "rowcount", 0) or 0) for q, v in steps]
    compiled = [(query.compiled(direct.dialect), values) for query, values in steps]
    return await direct.transaction([(c.sql, c.parameters(values)) for c, values in compiled])


async def together(db: SessionFactory, *reads: Awaitable[Any]) -> list[Any]:
    """The reads' results, in order: awaited at once on PostgreSQL (a connection each, so the round
    trips overlap), one after another on SQLite (its one connection runs each inline anyway).
    Every read ends before the first failure, if any, is raised."""
    results: list[Any]
    if isinstance(_direct_for(db), _DirectSQLite):
        results = [await _outcome(read) for read in reads]
    else:
        results = await asyncio.gather(*reads, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


async def _outcome(read: Awaitable[Any]) -> Any:
    try:
        return await read
    except Exception as exc:  # as `asyncio.gather(..., return_exceptions=True)` collects it
        return exc


# What `run` answers: the first row ("one", or None), every row ("all"), or the rows touched ("count").
Fetch = Literal["one", "all", "count"]


class _DirectSQLite:
    """One autocommit `sqlite3` connection beside an engine's pool, opened on first use."""

    def __init__(self, dialect: Dialect, connect: Callable[[], sqlite3.Connection], timeout: float) -> None:
        self.dialect = dialect
        self._connect = connect
        self._timeout = timeout
        self._connection: sqlite3.Connection | None = None

    async def run(self, sql: str, parameters: list[Any], fetch: Fetch) -> Any:
        cursor = await sqlite_inline.unlocked(self._open().execute, self._timeout, sql, parameters)
        try:
            if fetch == "count":
                return cursor.rowcount
            return cursor.fetchone() if fetch == "one" else cursor.fetchall()
        finally:
            cursor.close()

    async def transaction(self, statements: list[tuple[str, list[Any]]]) -> list[int]:
        connection = self._open()
        await sqlite_inline.unlocked(connection.execute, self._timeout, "BEGIN IMMEDIATE")
        # The write lock is ours: the statements run back to back without yielding to the loop, so
        # no other coroutine's statement can land inside this transaction on the shared connection.
        try:
            counts = [connection.execute(sql, parameters).rowcount for sql, parameters in statements]
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return counts

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            self._connection = self._connect()
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _DirectPostgres:
    """asyncpg connections made by the engine's own pool (its connect arguments, its JSON codecs),
    then detached from it and kept here, outside any transaction: each statement commits alone.

    A connection is used by one statement at a time; one cancelled mid-statement is closed; when
    the connection was lost, every connection is (see `run`); one older than ``recycle`` seconds
    is replaced, as the pool recycles its own. At most ``limit`` are open at once (the server's
    connections are finite): a statement beyond that waits for one to come back, as the pool's
    own checkouts wait. One that comes back stays open for the next statement, up to the limit:
    closing it (as the pool closes its overflow) and opening another costs ~1 ms of this process's
    CPU and a cold statement cache, which a turn's reads run together paid several times a turn.
    """

    def __init__(self, engine: Engine, recycle: float, limit: int) -> None:
        self.dialect = engine.dialect
        self._engine = engine
        self._recycle = recycle
        self._limit = limit
        self._open = 0  # connections of ours, idle or in use
        self._idle: list[tuple[float, Any]] = []  # (made at, asyncpg connection)
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._joined: dict[tuple[str, ...], str] = {}  # a transaction's statements -> `_one_statement`

    async def run(self, sql: str, parameters: list[Any], fetch: Fetch) -> Any:
        async def work(connection: Any) -> Any:
            if fetch == "one":
                record = await connection.fetchrow(sql, *parameters)
                return tuple(record) if record is not None else None
            if fetch == "all":
                return [tuple(record) for record in await connection.fetch(sql, *parameters)]
            return _count(await connection.execute(sql, *parameters))
        return await self._use(work)

    async def transaction(self, statements: list[tuple[str, list[Any]]]) -> list[int]:
        if len(statements) == 1:  # one statement is a transaction of its own
            return [await self.run(*statements[0], "count")]
        key = tuple(sql for sql, _ in statements)
        sql = self._joined.get(key)
        if sql is None:
            sql = self._joined[key] = _one_statement(key)
        parameters = [value for _, values in statements for value in values]
        return list(await self.run(sql, parameters, "one"))

    async def _use(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        """``work`` on a connection of ours (see the class's notes on failures)."""
        made, connection = await self._acquire()
        try:
            result = await work(connection)
        except asyncio.CancelledError:
            self._drop(connection)  # cancelled mid-statement: its state is unknown
            raise
        except Exception as exc:
            if not _connection_lost(exc):  # the statement failed; the connection is fine
                self._give_back(made, connection)
                raise
            # The server went away (a restart, say), and with it the idle connections and the
            # pool's: all go at once, as SQLAlchemy's pool does on a disconnect, so a restart costs
            # one failed statement.
            self._drop(connection)
            await greenlet_spawn(self._engine.dispose)  # closes ours too (`_attach`)
            raise
        self._give_back(made, connection)
        return result

    async def _acquire(self) -> tuple[float, Any]:
        while True:
            while self._idle:
                made, connection = self._idle.pop()
                if time.monotonic() - made < self._recycle and not connection.is_closed():
                    return made, connection
                self._drop(connection)
            if self._open < self._limit:
                break
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                else:
                    self._wake()  # woken, then cancelled: the turn passes on
                raise
        self._open += 1
        try:
            proxied = await greenlet_spawn(self._engine.raw_connection)
        except BaseException:
            self._open -= 1
            self._wake()
            raise
        connection = proxied.driver_connection
        proxied.detach()  # ours now: the pool neither counts nor closes it
        return time.monotonic(), connection

    def _give_back(self, made: float, connection: Any) -> None:
        self._idle.append((made, connection))
        self._wake()

    def _drop(self, connection: Any) -> None:
        connection.terminate()
        self._open -= 1
        self._wake()

    def _wake(self) -> None:
        """Let the longest-waiting statement look again (for an idle connection or a free place)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for _made, connection in idle:
            self._drop(connection)


def _one_statement(statements: Sequence[str]) -> str:
    """Writes as one statement of data-modifying CTEs, answering the rows each touched: one round
    trip where BEGIN, the writes and COMMIT were one each, and atomic as any statement is. Its
    parts see one snapshot, so none sees another's rows; a reference to a row another part inserts
    is checked at the statement's end, as in a transaction."""
    parts, counts, offset = [], [], 0
    for i, sql in enumerate(statements):
        assert "RETURNING" not in sql.upper(), "a plain INSERT, UPDATE or DELETE"
        parts.append(f"w{i} AS ({_shifted(sql, offset)} RETURNING 1)")
        counts.append(f"(SELECT count(*) FROM w{i})")
        offset += max((int(n) for n in _PLACEHOLDER.findall(sql)), default=0)
    return f"WITH {', '.join(parts)} SELECT {', '.join(counts)}"


_PLACEHOLDER = re.compile(r"\$(\d+)")  # asyncpg's positional parameters: $1, $2, ...


def _shifted(sql: str, by: int) -> str:
    """``sql`` with its parameters renumbered from ``by`` + 1 (its own follow earlier statements')."""
    return _PLACEHOLDER.sub(lambda match: f"${int(match[1]) + by}", sql)


def _count(status: str) -> int:
    """The rows a statement touched, from its status ("UPDATE 1", "INSERT 0 1")."""
    return int(status.rsplit(" ", 1)[-1])


def _connection_lost(exc: Exception) -> bool:
    """Whether ``exc`` says the connection is gone (not that a statement failed on it):
    anything but a server error, or a server error of class 08 (connection) or 57 (shutdown)."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "")[:2] in ("08", "57")
    return True


# By the engine's dialect: an engine's option copies (`execution_options`) share it, and it
# outlives `dispose`.
_ATTACHED: weakref.WeakKeyDictionary[Dialect, _DirectSQLite | _DirectPostgres] = weakref.WeakKeyDictionary()


def attach_sqlite(engine: Engine, connect: Callable[[], sqlite3.Connection], timeout: float) -> None:
    """Give ``engine`` (a SQLite engine's sync side) its direct connection; closed with the engine's pool."""
    _attach(engine, _DirectSQLite(engine.dialect, connect, timeout))


def attach_postgres(engine: Engine, *, recycle: float, limit: int) -> None:
    """Give ``engine`` (a PostgreSQL engine's sync side, asyncpg) up to ``limit`` direct connections."""
    _attach(engine, _DirectPostgres(engine, recycle, limit))


def _attach(engine: Engine, direct: _DirectSQLite | _DirectPostgres) -> None:
    _ATTACHED[engine.dialect] = direct
    event.listen(engine, "engine_disposed", lambda _engine: direct.close())


def _direct_for(db: SessionFactory) -> _DirectSQLite | _DirectPostgres | None:
    bind = db.kw.get("bind")
    return _ATTACHED.get(bind.sync_engine.dialect) if bind is not None else None
