"""Shared fixtures: settings on a temporary data dir, the app in-process, and the database.

The suite runs on SQLite by default. With ``DATABASE_URL`` pointing at PostgreSQL it runs every
database test there instead: a fresh database is created for the session and emptied after each
test. Redis tests use ``REDIS_URL`` (default redis://127.0.0.1:6379/0) with a unique key prefix.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from rolecall.app import create_app
from rolecall.config import Settings, normalize_database_url
from rolecall.crypto import generate_key_file_text
from tests.helpers import make_client, sign_up
from tests.scene_helpers import Owner, set_up_owner

# Read once, then scrubbed from the environment so no test picks them up by accident.
POSTGRES_URL = normalize_database_url(os.environ.get("DATABASE_URL", "")) or None
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
_SCRUB_PREFIXES = ("ROLECALL_",)
_SCRUB_NAMES = (
    "DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
    "CO_API_KEY", "COHERE_API_KEY", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
)

# A shared database needs configured keys (the embedded default generates its own file).
TEST_ENCRYPTION_KEYS = generate_key_file_text("test").strip()


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_SCRUB_PREFIXES) or name in _SCRUB_NAMES:
            monkeypatch.delenv(name)


async def create_postgres_database(base_url: str) -> str:
    """Create an empty database on the server of ``base_url`` and return its URL."""
    url = make_url(base_url)
    name = f"rolecall_test_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(**_pg_args(url, url.database or "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(db_url: str) -> None:
    url = make_url(db_url)
    conn = await asyncpg.connect(**_pg_args(url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await conn.close()


def _pg_args(url, database: str) -> dict:  # type: ignore[no-untyped-def]
    return {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres",
            "password": url.password, "database": database}


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """One fresh PostgreSQL database for the whole run, or None on SQLite."""
    if not POSTGRES_URL:
        yield None
        return
    url = asyncio.run(create_postgres_database(POSTGRES_URL))
    yield url
    asyncio.run(drop_postgres_database(url))


async def _empty_postgres(url: str) -> None:
    conn = await asyncpg.connect(**_pg_args(make_url(url), make_url(url).database))
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            await conn.execute("TRUNCATE " + ", ".join(f'"{t["tablename"]}"' for t in tables) + " CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def make_settings(tmp_path: Path, postgres_url: str | None):  # type: ignore[no-untyped-def]
    """Build settings for a test: a temporary data dir and the run's database."""

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "data", "database_url": postgres_url}
        if postgres_url:
            values["encryption_keys"] = SecretStr(TEST_ENCRYPTION_KEYS)
        values.update(overrides)
        return Settings(**values)

    yield build
    if postgres_url:  # every test starts from empty tables
        asyncio.run(_empty_postgres(postgres_url))


@pytest.fixture
def settings(make_settings) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with make_client(app) as c:
        yield c


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """``client``, signed up and logged in as alice."""
    response = await sign_up(client, "alice")
    assert response.status_code == 201, response.text
    return client


@pytest.fixture
async def owner(alice: httpx.AsyncClient) -> Owner:
    """alice with her vault set up, for tests that build configs and scenes (tests/scene_helpers.py)."""
    return await set_up_owner(alice)
