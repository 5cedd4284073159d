"""One undecryptable stored key must not take the server down (issue 10, item 17).

Two Server-Accessible ciphertexts swapped between rows (each is bound to its own config) is the
classic case: the key ring is right, two rows are not. Start-up says which rows and why, `keys
check` lists them and can set them aside, rotation skips and reports them, and `keys retire`
removes a key only once no row uses it.
"""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import select

from rolecall.cli import main
from rolecall.crypto import KeyRing, generate_key_file_text
from rolecall.resources import open_resources
from rolecall.services import keyring, vault
from rolecall.storage.db import make_engine, make_sessionmaker
from rolecall.storage.tables import Account, ProviderConfig
from tests.factories import add_provider_config

ROWS = 26


async def _seed(settings, *, swap: bool = True) -> list[ProviderConfig]:  # type: ignore[no-untyped-def]
    """26 Server-Accessible configs; with `swap`, the ciphertexts of the first two are exchanged."""
    async with open_resources(settings, consume_jobs=False) as res:
        async with res.db.begin() as s:
            s.add(Account(id="a" * 24, name="keyholder", name_key="keyholder", password_hash="x"))
        rows = [await add_provider_config(res.db, "a" * 24, mode="srv", ring=res.keyring, label=f"config {n:02d}",
                                          api_key=f"sk-unreadable-{n:020d}") for n in range(ROWS)]
        if swap:
            async with res.db.begin() as s:
                first, second = [await s.get(ProviderConfig, r.id) for r in rows[:2]]
                first.credential_ct, second.credential_ct = second.credential_ct, first.credential_ct
    return rows


def _settings_on_sqlite(make_settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    # The CLI is driven with --data-dir: the embedded default, with its generated key file.
    return make_settings(data_dir=tmp_path / "data", database_url=None, encryption_keys=None)


async def test_start_up_names_the_rows_that_fail_and_why(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(encryption_keys=SecretStr(generate_key_file_text("k1").strip()))
    rows = await _seed(settings)
    with pytest.raises(keyring.KeyRingProblem) as caught:
        async with open_resources(settings, consume_jobs=False):
            pass
    message = str(caught.value)
    assert "not the key that encrypted" not in message  # the key ring is right
    assert "2 stored provider key(s) can't be decrypted" in message
    for row in rows[:2]:
        assert row.id in message and f"\u201c{row.label}\u201d" in message
    assert rows[2].id not in message
    assert "copied from another config" in message and "rolecall keys check --mark-unusable" in message


async def test_a_wrong_key_is_still_called_a_wrong_key(make_settings) -> None:  # type: ignore[no-untyped-def]
    await _seed(make_settings(encryption_keys=SecretStr(generate_key_file_text("k1").strip())), swap=False)
    wrong = make_settings(encryption_keys=SecretStr(generate_key_file_text("k1").strip()))
    with pytest.raises(keyring.KeyRingProblem, match=f"not the key that encrypted.*none of its {ROWS}"):
        async with open_resources(wrong, consume_jobs=False):
            pass


def test_keys_check_lists_them_and_sets_them_aside_so_serve_starts(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings_on_sqlite(make_settings, tmp_path)
    rows = asyncio.run(_seed(settings))
    runner = CliRunner()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:  # `serve` sets up logging on the root logger; give the other tests theirs back
        refused = runner.invoke(main, ["serve", "--data-dir", str(settings.data_dir), "--port", "0"])
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert refused.exit_code == 1 and rows[0].id in refused.output and rows[1].id in refused.output
    assert "not the key that encrypted" not in refused.output and "--mark-unusable" in refused.output
    listed = runner.invoke(main, ["--data-dir", str(settings.data_dir), "keys", "check"])
    assert listed.exit_code == 1
    assert "2 stored key(s) can't be decrypted" in listed.output
    assert rows[0].id in listed.output and rows[1].id in listed.output and rows[2].id not in listed.output
    data = str(settings.data_dir)
    declined = runner.invoke(main, ["--data-dir", data, "keys", "check", "--mark-unusable"], input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    marked = runner.invoke(main, ["--data-dir", str(settings.data_dir), "keys", "check", "--mark-unusable", "--yes"])
    assert marked.exit_code == 0, marked.output
    assert "Marked 2 config(s) unusable" in marked.output

    async def start() -> None:
        async with open_resources(settings, consume_jobs=False) as res:  # starts now
            async with res.db() as s:
                stored = {r.id: r for r in await s.scalars(select(ProviderConfig))}
            for row in rows[:2]:
                card = stored[row.id]
                assert (card.status, card.credential_ct, card.key_id, card.key_hint) == ("invalid", None, None, None)
                assert "Re-enter this key" in card.status_detail
            for n, row in enumerate(rows[2:], start=2):
                assert vault.open_server_credential(res.keyring, stored[row.id])["api_key"] == f"sk-unreadable-{n:020d}"

    asyncio.run(start())
    again = runner.invoke(main, ["--data-dir", str(settings.data_dir), "keys", "check"])
    assert again.exit_code == 0 and "Every stored key opens" in again.output


async def _counts(settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    engine = make_engine(settings.effective_database_url)
    try:
        return await keyring.key_counts(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def test_rotation_skips_and_reports_what_it_cannot_open_and_retire_waits(  # type: ignore[no-untyped-def]
    make_settings, tmp_path
) -> None:
    settings = _settings_on_sqlite(make_settings, tmp_path)
    rows = asyncio.run(_seed(settings))
    runner = CliRunner()
    data = str(settings.data_dir)
    old_kid = keyring.load_key_ring(settings).primary
    assert runner.invoke(main, ["--data-dir", data, "keys", "new"]).exit_code == 0
    new_kid = keyring.load_key_ring(settings).primary
    rotated = runner.invoke(main, ["--data-dir", data, "keys", "rotate"])
    assert rotated.exit_code == 1 and isinstance(rotated.exception, SystemExit)  # a message, not a traceback
    assert f"Re-wrapped {ROWS - 2} of {ROWS} stored key(s) under {new_kid}" in rotated.output
    assert rows[0].id in rotated.output and rows[1].id in rotated.output and rows[2].id not in rotated.output
    assert asyncio.run(_counts(settings)) == {new_kid: ROWS - 2, old_kid: 2}

    in_use = runner.invoke(main, ["--data-dir", data, "keys", "retire", old_kid])
    assert in_use.exit_code == 1 and f"2 stored key(s) still use {old_kid}" in in_use.output
    primary = runner.invoke(main, ["--data-dir", data, "keys", "retire", new_kid])
    assert primary.exit_code == 1 and "is the primary key" in primary.output

    assert runner.invoke(main, ["--data-dir", data, "keys", "check", "--mark-unusable", "--yes"]).exit_code == 0
    retired = runner.invoke(main, ["--data-dir", data, "keys", "retire", old_kid])
    assert retired.exit_code == 0, retired.output
    key_file = settings.data_dir / "encryption.keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    ring = KeyRing.parse(key_file.read_text())
    assert ring.kids == (new_kid,) and old_kid not in key_file.read_text()

    async def start() -> dict[str, int]:
        async with open_resources(settings, consume_jobs=False) as res:  # starts on the smaller ring
            return await keyring.key_counts(res.db)

    assert asyncio.run(start()) == {new_kid: ROWS - 2}


async def test_rotation_service_reports_the_skipped_rows(make_settings) -> None:  # type: ignore[no-untyped-def]
    old_line = generate_key_file_text("old").strip()
    rows = await _seed(make_settings(encryption_keys=SecretStr(old_line)))
    new_line = generate_key_file_text("new").strip()
    both = make_settings(encryption_keys=SecretStr(f"{new_line},{old_line}"))
    engine = make_engine(both.effective_database_url)
    try:
        result = await keyring.rotate(make_sessionmaker(engine), KeyRing.parse(f"{new_line},{old_line}"), batch=5)
    finally:
        await engine.dispose()
    assert result.rewrapped == ROWS - 2
    assert sorted(r.config_id for r in result.skipped) == sorted(r.id for r in rows[:2])
