"""Revision 0006 counts the model lists already stored, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from rolecall.storage import migrate
from rolecall.storage.db import make_engine
from tests.conftest import POSTGRES_URL, create_postgres_database, drop_postgres_database


async def _check_backfill(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate.upgrade(engine, "0004")
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO account (id, name, name_key, password_hash, created_at) "
                                    "VALUES ('a1', 'ada', 'ada', 'x', CURRENT_TIMESTAMP)"))
            for config_id, models in (("c1", json.dumps([{"id": "m1"}, {"id": "m2"}])), ("c2", "null"), ("c3", None)):
                await conn.execute(text(
                    "INSERT INTO provider_config (id, account_id, provider_id, label, privacy_mode, base_url, dest_origin, "
                    "options, status, status_detail, models, models_error, created_at, updated_at) VALUES (:id, 'a1', 'openai', "
                    ":id, 'srv', 'https://x/v1', 'https://x', '{}', 'untested', '', :models, '', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"), {"id": config_id, "models": models})
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            counts = dict((await conn.execute(text("SELECT id, models_count FROM provider_config"))).all())
        assert counts == {"c1": 2, "c2": 0, "c3": 0}
    finally:
        await engine.dispose()


async def test_backfill_on_sqlite(tmp_path: Path) -> None:
    await _check_backfill(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")


@pytest.mark.skipif(not POSTGRES_URL, reason="runs when DATABASE_URL points at PostgreSQL (CI's second pass)")
async def test_backfill_on_postgres() -> None:
    url = await create_postgres_database(POSTGRES_URL)
    try:
        await _check_backfill(url)
    finally:
        await drop_postgres_database(url)
