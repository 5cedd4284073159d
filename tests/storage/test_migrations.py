"""Migrations bring an empty database to head, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import inspect

from rolecall.storage import migrate
from rolecall.storage.db import make_engine
from rolecall.storage.tables import Base
from tests.conftest import POSTGRES_URL, create_postgres_database, drop_postgres_database

EXPECTED_TABLES = set(Base.metadata.tables)


async def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def _check_upgrade_from_empty(url: str) -> None:
    engine = make_engine(url)
    try:
        assert await _tables(engine) == set()
        assert await migrate.current_revision(engine) is None
        await migrate.upgrade(engine)
        assert await _tables(engine) == EXPECTED_TABLES | {"alembic_version"}
        assert await migrate.current_revision(engine) == migrate.head_revision()
        await migrate.upgrade(engine)  # a second run is a no-op
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


async def test_sqlite_upgrade_from_empty(tmp_path: Path) -> None:
    await _check_upgrade_from_empty(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.skipif(not POSTGRES_URL, reason="runs when DATABASE_URL points at PostgreSQL (CI's second pass)")
async def test_postgres_upgrade_from_empty() -> None:
    url = await create_postgres_database(POSTGRES_URL)
    try:
        await _check_upgrade_from_empty(url)
    finally:
        await drop_postgres_database(url)


@pytest.mark.skipif(not POSTGRES_URL, reason="runs when DATABASE_URL points at PostgreSQL (CI's second pass)")
async def test_postgres_replicas_migrating_at_once_take_turns() -> None:
    url = await create_postgres_database(POSTGRES_URL)
    engines = [make_engine(url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate.upgrade(e) for e in engines))
        assert await migrate.current_revision(engines[0]) == migrate.head_revision()
    finally:
        for engine in engines:
            await engine.dispose()
        await drop_postgres_database(url)


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    """The tables the code declares are exactly what the migrations build (no missing revision)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'diff.db'}")
    asyncio.run(migrate.upgrade(engine))
    asyncio.run(engine.dispose())
    sync = create_engine(f"sqlite:///{tmp_path / 'diff.db'}")
    with sync.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    sync.dispose()
    assert diff == []
