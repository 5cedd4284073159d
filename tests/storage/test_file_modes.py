"""The SQLite database and its WAL/SHM files are readable by the RoleCall user only (issue 10, item 16)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from rolecall.app import create_app
from tests.helpers import make_client, sign_up


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _run_app_and_write(settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Start the app, write a row, and read the file modes while the database is open (WAL present)."""
    application = create_app(settings)
    async with LifespanManager(application), make_client(application) as client:
        response = await sign_up(client, "alice")
        assert response.status_code == 201
        assert isinstance(client, httpx.AsyncClient)
        database = settings.data_dir / "rolecall.db"
        return {suffix: mode(Path(f"{database}{suffix}")) for suffix in ("", "-wal", "-shm")}


async def test_a_new_data_dir_and_database_are_private(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o022)  # the usual umask: without care, files would be 0644
    try:
        settings = make_settings(data_dir=tmp_path / "fresh" / "data", database_url=None, encryption_keys=None)
        modes = await _run_app_and_write(settings)
    finally:
        os.umask(old)
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert mode(settings.data_dir) == 0o700
    assert mode(settings.data_dir / "encryption.keys") == 0o600


async def test_an_older_world_readable_database_is_tightened(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "old"
    data.mkdir()
    database = data / "rolecall.db"
    database.touch(mode=0o644)
    os.chmod(database, 0o644)
    modes = await _run_app_and_write(make_settings(data_dir=data, database_url=None, encryption_keys=None))
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
