"""The server key ring: generated on first run, checked at start-up, rotated without downtime."""

from __future__ import annotations

import logging
import stat

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import select

from rolecall.cli import main
from rolecall.crypto import KeyRing, generate_key_file_text
from rolecall.resources import open_resources
from rolecall.services import keyring, vault
from rolecall.storage.tables import Account, ProviderConfig
from tests.factories import add_provider_config


def test_embedded_default_generates_a_private_key_file(make_settings, caplog) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(database_url=None, encryption_keys=None)
    with caplog.at_level(logging.WARNING):
        ring = keyring.load_key_ring(settings)
    path = settings.data_dir / "encryption.keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "Generated a new encryption key file" in caplog.text and str(path) in caplog.text
    assert keyring.load_key_ring(settings).primary == ring.primary  # reused, not regenerated


def test_shared_database_needs_configured_keys(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(database_url="postgresql+asyncpg://u@db.example/x", encryption_keys=None)
    with pytest.raises(keyring.KeyRingProblem, match="ROLECALL_ENCRYPTION_KEYS"):
        keyring.load_key_ring(settings)
    configured = make_settings(database_url="postgresql+asyncpg://u@db.example/x",
                               encryption_keys=SecretStr(generate_key_file_text("k1").strip()))
    assert keyring.load_key_ring(configured).primary == "k1"
    with pytest.raises(keyring.KeyRingProblem, match="unusable"):
        keyring.load_key_ring(make_settings(encryption_keys=SecretStr("k1:" + "A" * 43)))


async def _account(res) -> str:  # type: ignore[no-untyped-def]
    async with res.db.begin() as s:
        s.add(Account(id="a" * 24, name="keyholder", name_key="keyholder", password_hash="x"))
    return "a" * 24


async def test_start_up_refuses_a_ring_without_the_stored_key(make_settings) -> None:  # type: ignore[no-untyped-def]
    old = SecretStr(generate_key_file_text("old").strip())
    async with open_resources(make_settings(encryption_keys=old), consume_jobs=False) as res:
        await add_provider_config(res.db, await _account(res), mode="srv", ring=res.keyring)
    other = SecretStr(generate_key_file_text("other").strip())
    with pytest.raises(keyring.KeyRingProblem, match=r"old.*does not have"):
        async with open_resources(make_settings(encryption_keys=other), consume_jobs=False):
            pass
    wrong_material = SecretStr(generate_key_file_text("old").strip())
    with pytest.raises(keyring.KeyRingProblem, match="not the key that encrypted"):
        async with open_resources(make_settings(encryption_keys=wrong_material), consume_jobs=False):
            pass


async def test_rotation_rewraps_everything_and_retires_the_old_key(make_settings) -> None:  # type: ignore[no-untyped-def]
    old_line = generate_key_file_text("old").strip()
    new_line = generate_key_file_text("new").strip()
    async with open_resources(make_settings(encryption_keys=SecretStr(old_line)), consume_jobs=False) as res:
        account_id = await _account(res)
        for n in range(5):
            await add_provider_config(res.db, account_id, mode="srv", ring=res.keyring, api_key=f"sk-rotate-{n:020d}")

    both = KeyRing.parse(f"{new_line},{old_line}")
    async with open_resources(make_settings(encryption_keys=SecretStr(f"{new_line},{old_line}")), consume_jobs=False) as res:
        assert await keyring.key_counts(res.db) == {"old": 5}
        steps: list[int] = []
        assert (await keyring.rotate(res.db, both, batch=2, progress=steps.append)).rewrapped == 5
        assert steps == [2, 2, 1]
        assert await keyring.key_counts(res.db) == {"new": 5}
        assert (await keyring.rotate(res.db, both)).rewrapped == 0  # resumable: nothing left to do

    only_new = SecretStr(new_line)
    async with open_resources(make_settings(encryption_keys=only_new), consume_jobs=False) as res:
        async with res.db() as s:
            rows = list(await s.scalars(select(ProviderConfig).order_by(ProviderConfig.label)))
        keys_now = sorted(vault.open_server_credential(res.keyring, row)["api_key"] for row in rows)
        assert keys_now == [f"sk-rotate-{n:020d}" for n in range(5)]


def test_keys_commands_on_the_embedded_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    data = str(tmp_path / "data")
    assert runner.invoke(main, ["migrate", "--data-dir", data]).exit_code == 0
    first = runner.invoke(main, ["--data-dir", data, "keys", "status"])
    assert first.exit_code == 0 and "(primary): 0 stored key(s)" in first.output
    added = runner.invoke(main, ["--data-dir", data, "keys", "new"])
    assert added.exit_code == 0 and "as the primary" in added.output
    rotated = runner.invoke(main, ["--data-dir", data, "keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "Re-wrapped 0 stored key(s)" in rotated.output
    lines = [line for line in (tmp_path / "data" / "encryption.keys").read_text().splitlines() if not line.startswith("#")]
    assert len(lines) == 2
