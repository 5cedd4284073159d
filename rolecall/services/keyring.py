"""The server key ring: where it comes from, the start-up check, and rotation.

Server-Accessible credentials are wrapped by the ring's primary key (crypto-security.md §3.9).
The ring comes from ``encryption_keys`` (env) or ``encryption_keys_file``; on the embedded default
(SQLite) a key file is generated in the data dir on first start, mode 0600, and the log says so.
A PostgreSQL deployment must configure keys explicitly: replicas have to share them.

Start-up refuses to continue when a stored credential names a key id the ring lacks, or when the
key under that id is not the one that wrapped it (checked by unwrapping one row's data key per id,
which proves the key without ever opening a credential).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select

from rolecall.config import Settings
from rolecall.crypto import Binding, CryptoError, KeyRing, generate_key_file_text, srv
from rolecall.storage.db import Sessions, make_private_dir
from rolecall.storage.tables import ProviderConfig

log = logging.getLogger(__name__)
KEY_FILE_NAME = "encryption.keys"


class KeyRingProblem(Exception):
    """The key ring cannot be used; the message says what to fix. Stops start-up."""


def key_file_path(settings: Settings) -> Path | None:
    if settings.encryption_keys_file is not None:
        return settings.encryption_keys_file
    return settings.data_dir / KEY_FILE_NAME if settings.is_sqlite else None


def load_key_ring(settings: Settings) -> KeyRing:
    if settings.encryption_keys is not None:
        return _parse(settings.encryption_keys.get_secret_value(), "ROLECALL_ENCRYPTION_KEYS")
    path = key_file_path(settings)
    if path is None:
        raise KeyRingProblem(
            "Set ROLECALL_ENCRYPTION_KEYS or ROLECALL_ENCRYPTION_KEYS_FILE: with a shared database every "
            "replica needs the same encryption keys. `rolecall keys new` prints a fresh key line."
        )
    if not path.exists():
        if settings.encryption_keys_file is not None:
            raise KeyRingProblem(f"Encryption key file not found: {path}")
        _write_new_key_file(path)
        log.warning("Generated a new encryption key file at %s (mode 0600). Back it up with the database: "
                    "without it, Server-Accessible provider keys cannot be decrypted.", path)
    return _parse(path.read_text(encoding="utf-8"), str(path))


def _parse(text: str, source: str) -> KeyRing:
    try:
        return KeyRing.parse(text)
    except CryptoError as exc:
        raise KeyRingProblem(f"Encryption keys from {source} are unusable: {exc}") from None


def _write_new_key_file(path: Path) -> None:
    make_private_dir(path.parent)
    text = "# RoleCall encryption keys: first line is the primary. Back this file up with the database.\n"
    text += generate_key_file_text(new_kid())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def new_kid() -> str:
    """A readable, unique key id: the date it was made plus a random tail."""
    return datetime.now(UTC).strftime("k%Y%m%d-") + secrets.token_hex(3)


def add_key_to_file(path: Path) -> str:
    """Put a fresh key first in ``path`` (it becomes the primary); return its id."""
    kid = new_kid()
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(generate_key_file_text(kid) + old)
    os.replace(path.with_suffix(".tmp"), path)
    return kid


class BoundConfig(Protocol):
    """What a stored credential is bound to: a `ProviderConfig` row or a view of one."""

    @property
    def id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def provider_id(self) -> str: ...
    @property
    def dest_origin(self) -> str: ...


def binding_of(config: BoundConfig) -> Binding:
    return Binding(config.account_id, config.id, config.provider_id, config.dest_origin)


async def check_key_ring(db: Sessions, ring: KeyRing) -> None:
    """Refuse to start when stored credentials need keys the ring lacks or does not match."""
    async with db() as s:
        kids = list(await s.scalars(select(ProviderConfig.key_id).where(ProviderConfig.key_id.is_not(None)).distinct()))
        missing = ring.missing(kids)
        if missing:
            raise KeyRingProblem(
                "Stored provider keys are wrapped by encryption key id(s) " + ", ".join(missing)
                + " which the configured key ring does not have. Add them back (rotation needs the old keys "
                "until `rolecall keys rotate` has finished)."
            )
        for kid in kids:
            row = await s.scalar(select(ProviderConfig).where(ProviderConfig.key_id == kid).limit(1))
            try:
                srv.check_wrap(ring, row.credential_ct, binding_of(row))
            except CryptoError:
                raise KeyRingProblem(
                    f"The configured encryption key {kid!r} is not the key that encrypted the stored provider "
                    "keys. Restore the original key file or ROLECALL_ENCRYPTION_KEYS."
                ) from None


async def key_counts(db: Sessions) -> dict[str, int]:
    async with db() as s:
        rows = await s.execute(
            select(ProviderConfig.key_id, func.count()).where(ProviderConfig.key_id.is_not(None)).group_by(ProviderConfig.key_id)
        )
        return {kid: count for kid, count in rows}


async def rotate(db: Sessions, ring: KeyRing, *, batch: int = 200, progress: Callable[[int], None] | None = None) -> int:
    """Re-wrap every credential not under the primary key, one committed batch at a time.

    Resumable: an interrupted run leaves each row either old or new, and the next run picks up the
    rows still under an old key. On PostgreSQL, concurrent runs skip rows another run holds.
    """
    done = 0
    while True:
        async with db.begin() as s:
            query = select(ProviderConfig).where(
                ProviderConfig.key_id.is_not(None), ProviderConfig.key_id != ring.primary
            ).limit(batch)
            if s.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(await s.scalars(query))
            for row in rows:
                row.credential_ct = srv.rewrap(row.credential_ct, ring, binding_of(row))
                row.key_id = ring.primary
        if not rows:
            return done
        done += len(rows)
        if progress:
            progress(len(rows))
