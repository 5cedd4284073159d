"""Hot statements straight on the driver (`rolecall.storage.direct`): the values that go in and come
out are exactly a session's (zone-aware times, JSON, NULLs, Python-side column defaults), a write
counts the rows it touched, and a write that meets another writer's lock waits for it without
blocking the event loop. On PostgreSQL the same calls run through a session; the tests run on both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, func, insert, select, text, update

from rolecall.config import Settings
from rolecall.storage import direct, migrate
from rolecall.storage.db import DIRECT_LIMIT, Sessions, make_engine, make_sessionmaker
from rolecall.storage.tables import Account, ProviderConfig

_ROW = direct.Query(select(ProviderConfig.id, ProviderConfig.options, ProviderConfig.models,
                           ProviderConfig.last_tested_at, ProviderConfig.models_fetched_at, ProviderConfig.updated_at,
                           ProviderConfig.status).where(ProviderConfig.id == bindparam("id_")))
_MARK = direct.Query(update(ProviderConfig).where(ProviderConfig.id == bindparam("id_"))
                     .values(status=bindparam("status_"), last_tested_at=bindparam("now_")))


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Sessions]:
    engine = make_engine(settings.effective_database_url)
    await migrate.upgrade(engine)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _config(db: Sessions, **values: object) -> str:
    async with db.begin() as s:
        s.add(Account(id="acct-1", name="alice", name_key="alice", password_hash="x"))
        await s.flush()
        s.add(ProviderConfig(id="cfg-1", account_id="acct-1", provider_id="openai", label="mine", privacy_mode="srv",
                             base_url="https://api.openai.com/v1", dest_origin="https://api.openai.com", **values))
    return "cfg-1"


async def test_a_query_reads_what_a_session_reads(db: Sessions) -> None:
    tested = datetime(2026, 12, 7, 5, 30, 1, 123456, tzinfo=UTC)
    await _config(db, options={"model": "gpt-4o", "values": {"temperature": 0.5}},
                  models=[{"id": "gpt-4o", "name": "GPT-4o", "capabilities": ["vision"]}], last_tested_at=tested)
    async with db() as s:
        expected = (await s.execute(_ROW.statement, {"id_": "cfg-1"})).one()

    row = await direct.first(db, _ROW, {"id_": "cfg-1"})

    assert tuple(row) == tuple(expected)
    assert row.options == {"model": "gpt-4o", "values": {"temperature": 0.5}}
    assert row.models[0]["capabilities"] == ["vision"]
    assert row.last_tested_at == tested and row.last_tested_at.tzinfo is not None
    assert row.models_fetched_at is None
    assert await direct.first(db, _ROW, {"id_": "no-such-config"}) is None


async def test_rows_reads_every_row_in_order(db: Sessions) -> None:
    await _config(db, options={"n": 1})
    async with db.begin() as s:
        s.add(ProviderConfig(id="cfg-2", account_id="acct-1", provider_id="openai", label="second", privacy_mode="srv",
                             base_url="https://api.openai.com/v1", dest_origin="https://api.openai.com", options={"n": 2}))
    listed = direct.Query(select(ProviderConfig.id, ProviderConfig.options)
                          .where(ProviderConfig.account_id == bindparam("account_")).order_by(ProviderConfig.label.desc()))

    found = await direct.rows(db, listed, {"account_": "acct-1"})

    assert [(row.id, row.options) for row in found] == [("cfg-2", {"n": 2}), ("cfg-1", {"n": 1})]
    assert await direct.rows(db, listed, {"account_": "nobody"}) == []


async def test_a_write_sets_python_side_defaults_and_counts_rows(db: Sessions) -> None:
    await _config(db)
    before = (await direct.first(db, _ROW, {"id_": "cfg-1"})).updated_at
    now = datetime.now(UTC)

    assert await direct.write(db, _MARK, {"id_": "cfg-1", "status_": "valid", "now_": now}) == 1
    assert await direct.write(db, _MARK, {"id_": "no-such-config", "status_": "valid", "now_": now}) == 0

    async with db() as s:
        row = await s.get(ProviderConfig, "cfg-1")
    assert row is not None
    assert (row.status, row.last_tested_at) == ("valid", now)
    assert row.updated_at > before  # the column's onupdate ran, as it does through a session


async def test_a_write_waits_for_another_writer_without_blocking_the_loop(db: Sessions) -> None:
    await _config(db)
    holding = asyncio.Event()
    ticks = 0

    async def holder() -> None:
        async with db.begin() as s:
            await s.execute(update(ProviderConfig).where(ProviderConfig.id == "cfg-1").values(status_detail="held"))
            holding.set()
            await asyncio.sleep(0.3)  # holding the lock, as a turn awaiting its provider would

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    done = asyncio.Event()

    async def writer() -> int:
        await holding.wait()
        try:
            return await direct.write(db, _MARK, {"id_": "cfg-1", "status_": "invalid", "now_": datetime.now(UTC)})
        finally:
            done.set()

    results = await asyncio.wait_for(asyncio.gather(holder(), writer(), ticker()), timeout=20)

    assert results[1] == 1
    assert ticks >= 10  # the loop kept running while the write waited (~0.3 s at 10 ms a tick)
    async with db() as s:
        row = await s.get(ProviderConfig, "cfg-1")
    assert row is not None and (row.status, row.status_detail) == ("invalid", "held")


async def test_a_transaction_lands_whole_or_not_at_all(db: Sessions) -> None:
    await _config(db)
    add = direct.Query(insert(Account).values(id=bindparam("id_"), name=bindparam("name_"),
                                              name_key=bindparam("key_"), password_hash="x"))
    now = datetime.now(UTC)

    counts = await direct.transaction(db, [(add, {"id_": "acct-2", "name_": "bob", "key_": "bob"}),
                                           (_MARK, {"id_": "cfg-1", "status_": "valid", "now_": now})])
    assert counts == [1, 1]
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):  # the second insert repeats a name
        await direct.transaction(db, [(_MARK, {"id_": "cfg-1", "status_": "invalid", "now_": now}),
                                      (add, {"id_": "acct-3", "name_": "carol", "key_": "carol"}),
                                      (add, {"id_": "acct-4", "name_": "carol2", "key_": "carol"})])

    async with db() as s:
        names = sorted((await s.execute(select(Account.name))).scalars())
        row = await s.get(ProviderConfig, "cfg-1")
    assert names == ["alice", "bob"]  # neither carol landed
    assert row is not None and row.status == "valid"  # nor the failed transaction's UPDATE


async def test_a_transaction_may_insert_a_row_and_one_that_refers_to_it(db: Sessions) -> None:
    # On PostgreSQL a transaction's steps run as one statement (`direct._one_statement`): a
    # reference to a row an earlier step inserts is checked when the statement ends, as in a
    # transaction; a reference to no row still fails the whole.
    add = direct.Query(insert(Account).values(id=bindparam("id_"), name=bindparam("name_"),
                                              name_key=bindparam("name_"), password_hash="x"))
    config = direct.Query(insert(ProviderConfig).values(
        id=bindparam("id_"), account_id=bindparam("account_"), provider_id="openai", label="mine",
        privacy_mode="srv", base_url="https://api.openai.com/v1", dest_origin="https://api.openai.com"))

    assert await direct.transaction(db, [(add, {"id_": "acct-9", "name_": "dana"}),
                                         (config, {"id_": "cfg-9", "account_": "acct-9"})]) == [1, 1]
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await direct.transaction(db, [(add, {"id_": "acct-10", "name_": "erin"}),
                                      (config, {"id_": "cfg-10", "account_": "no-such-account"})])

    async with db() as s:
        accounts = sorted((await s.execute(select(Account.id))).scalars())
        configs = sorted(tuple(row) for row in await s.execute(select(ProviderConfig.id, ProviderConfig.account_id)))
    assert accounts == ["acct-9"] and configs == [("cfg-9", "acct-9")]


async def test_a_transaction_waits_for_another_writer_without_blocking_the_loop(db: Sessions) -> None:
    await _config(db)
    holding, done = asyncio.Event(), asyncio.Event()
    ticks = 0

    async def holder() -> None:
        async with db.begin() as s:
            await s.execute(update(ProviderConfig).where(ProviderConfig.id == "cfg-1").values(status_detail="held"))
            holding.set()
            await asyncio.sleep(0.3)

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    async def writer() -> list[int]:
        await holding.wait()
        try:
            return await direct.transaction(db, [(_MARK, {"id_": "cfg-1", "status_": "invalid",
                                                          "now_": datetime.now(UTC)})])
        finally:
            done.set()

    results = await asyncio.wait_for(asyncio.gather(holder(), writer(), ticker()), timeout=20)
    assert results[1] == [1] and ticks >= 10
    async with db() as s:
        row = await s.get(ProviderConfig, "cfg-1")
    assert row is not None and (row.status, row.status_detail) == ("invalid", "held")


async def test_queries_still_run_after_the_engine_is_disposed(settings: Settings) -> None:
    engine = make_engine(settings.effective_database_url)
    await migrate.upgrade(engine)
    db = make_sessionmaker(engine)
    try:
        await _config(db, last_tested_at=datetime.now(UTC) - timedelta(days=1))
        assert (await direct.first(db, _ROW, {"id_": "cfg-1"})).status == "untested"
        await engine.dispose()  # closes the pool, and with it the direct connection
        assert await direct.write(db, _MARK, {"id_": "cfg-1", "status_": "valid", "now_": datetime.now(UTC)}) == 1
        assert (await direct.first(db, _ROW, {"id_": "cfg-1"})).status == "valid"
    finally:
        await engine.dispose()


async def test_values_written_into_the_statement_are_used_and_a_missing_one_is_refused(db: Sessions) -> None:
    await _config(db)
    untested = direct.Query(select(ProviderConfig.id).where(ProviderConfig.status == "untested",
                                                            ProviderConfig.account_id == bindparam("account_")))

    assert (await direct.first(db, untested, {"account_": "acct-1"})).id == "cfg-1"
    with pytest.raises(Exception, match="account_"):
        await direct.first(db, untested, {})


async def test_connections_the_server_dropped_cost_at_most_one_failed_statement(db: Sessions, settings: Settings) -> None:
    if not settings.effective_database_url.startswith("postgresql"):
        pytest.skip("runs when DATABASE_URL points at PostgreSQL (CI's second pass)")
    await _config(db)
    # Several direct connections open and idle, all of which the server is about to drop.
    await asyncio.gather(*(direct.first(db, _ROW, {"id_": "cfg-1"}) for _ in range(4)))
    async with db() as s:  # a database restart, as the other connections see it
        await s.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()"))

    with contextlib.suppress(Exception):  # the first statement on a dropped connection may fail
        await direct.first(db, _ROW, {"id_": "cfg-1"})
    later = [await direct.first(db, _ROW, {"id_": "cfg-1"}) for _ in range(6)]
    assert [row.status for row in later] == ["untested"] * 6


async def test_a_burst_of_statements_holds_at_most_the_limit_of_server_connections(db: Sessions,
                                                                                     settings: Settings) -> None:
    if not settings.effective_database_url.startswith("postgresql"):
        pytest.skip("runs when DATABASE_URL points at PostgreSQL (CI's second pass)")
    async with _sleepers(db) as seen:  # the server's connections that ran our statement, as an operator would look
        done = await asyncio.gather(*(direct.first(db, _SLEEP, {"seconds": 0.05}) for _ in range(3 * DIRECT_LIMIT)))

    assert len(done) == 3 * DIRECT_LIMIT  # every statement ran: the ones beyond the limit waited their turn
    assert 0 < max(seen) <= DIRECT_LIMIT, seen


_SLEEP = direct.Query(select(func.pg_sleep(bindparam("seconds")).label("slept")))


@contextlib.asynccontextmanager
async def _sleepers(db: Sessions, state: str = "%") -> AsyncIterator[list[int]]:
    """How many of the server's connections ran `_SLEEP` last (in ``state``), sampled while the block runs."""
    seen: list[int] = []

    async def watch() -> None:
        while True:
            async with db() as s:  # a new transaction each time: the server's activity view is a snapshot
                seen.append(int(await s.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query LIKE 'SELECT pg_sleep%' AND state LIKE :state"), {"state": state}) or 0))
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        yield seen
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def test_reads_together_answer_in_order_and_raise_the_first_failure_once_all_have_ended(db: Sessions) -> None:
    await _config(db)
    marked: list[str] = []

    async def failing(message: str) -> None:
        marked.append(message)
        raise LookupError(message)

    status, missing = await direct.together(db, direct.first(db, _ROW, {"id_": "cfg-1"}),
                                            direct.first(db, _ROW, {"id_": "nope"}))
    assert (status.status, missing) == ("untested", None)
    with pytest.raises(LookupError, match="first"):
        await direct.together(db, failing("first"), failing("second"), direct.first(db, _ROW, {"id_": "cfg-1"}))
    assert marked == ["first", "second"]  # the later read was not left unawaited


async def test_reads_together_run_at_once_on_postgresql(db: Sessions, settings: Settings) -> None:
    if not settings.effective_database_url.startswith("postgresql"):
        pytest.skip("runs when DATABASE_URL points at PostgreSQL (CI's second pass)")
    async with _sleepers(db, "active") as seen:
        await direct.together(db, *(direct.first(db, _SLEEP, {"seconds": 0.3}) for _ in range(3)))

    assert max(seen) == 3, seen  # one after another, the server would never run more than one
