"""Service tests talk to the provider fakes over real sockets, and to resources opened the way
`serve` opens them, on the run's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rolecall.resources import open_resources
from rolecall.services.resources import Resources
from rolecall.storage.tables import Account, new_id
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401


@pytest.fixture
async def res(settings) -> AsyncIterator[Resources]:  # type: ignore[no-untyped-def]
    async with open_resources(settings, consume_jobs=False) as opened:
        yield opened


async def add_account(res: Resources, name: str) -> str:
    account_id = new_id()
    async with res.db.begin() as s:
        s.add(Account(id=account_id, name=name, name_key=name.lower(), password_hash="x"))
    return account_id
