"""The server key ring: where it comes from, the start-up check, and rotation.

Server-Accessible credentials are wrapped by the ring's primary key (docs/security.md,
"Server-Accessible mode and the key ring").
The ring comes from ``encryption_keys`` (env) or ``encryption_keys_file``; on the embedded default
(SQLite) a key file is generated in the data dir on first start, mode 0600, and the log says so.
A PostgreSQL deployment must configure keys explicitly: replicas have to share them.

Start-up checks every stored credential by unwrapping its data key (which proves the key
without ever opening a credential) and refuses to continue when one fails, saying which and why:
a key id the ring lacks, a key under an id that opens none of its rows (the wrong key), or single
rows that do not open (damaged, or a ciphertext copied from another config). The way on for rows
that can never be opened is `rolecall keys check --mark-unusable`: their ciphertext is dropped and
their owners see "re-enter this key". Rotation skips such rows and reports them; `keys retire`
removes a key once no row uses it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select

from rolecall.config import Settings
from rolecall.crypto import Binding, CryptoError, KeyRing, UnknownKeyError, generate_key_file_text, srv
from rolecall.storage.db import Sessions, make_private_dir
from rolecall.storage.tables import ProviderConfig, utcnow

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


RE_ENTER = ("This key can no longer be decrypted on the server, so the operator set it aside. Re-enter this "
            "key: click Edit, paste the key (and any custom headers) and save.")
LOST_KEY_WAY_ON = (
    "Only if those keys can never be recovered: `rolecall keys check --mark-unusable` marks the configs "
    "unusable (their owners are asked to re-enter the key) so the server can start."
)
MAX_LISTED = 20


@dataclass(frozen=True)
class Unreadable:
    """A Server-Accessible credential the key ring cannot open, and why."""

    config_id: str
    account_id: str
    label: str
    key_id: str
    reason: str
    missing_key: bool = False

    def line(self) -> str:
        where = f"account {self.account_id}, key {self.key_id}"
        return f"config {self.config_id} \u201c{self.label}\u201d ({where}): {self.reason}"


def _why(exc: CryptoError, kid: str) -> str:
    if isinstance(exc, UnknownKeyError):
        return f"wrapped by key id {kid!r}, which the key ring does not have"
    if isinstance(exc, ValueError):
        return "the stored ciphertext is malformed"
    return (f"its data key does not open under key {kid!r} for this config: the ciphertext is damaged or was "
            "copied from another config")


def unreadable(ring: KeyRing, row: ProviderConfig) -> Unreadable | None:
    """None if the ring's key for this row unwraps its data key; else what is wrong."""
    kid = row.key_id or ""
    try:
        srv.check_wrap(ring, row.credential_ct or "", binding_of(row))
    except CryptoError as exc:
        return Unreadable(row.id, row.account_id, row.label, kid, _why(exc, kid), isinstance(exc, UnknownKeyError))
    return None


async def find_unreadable(db: Sessions, ring: KeyRing, *, batch: int = 500) -> list[Unreadable]:
    """Every stored server credential whose data key the ring cannot unwrap (content never opened)."""
    found: list[Unreadable] = []
    async with db() as s:
        rows = await s.stream_scalars(
            select(ProviderConfig).where(ProviderConfig.key_id.is_not(None)).order_by(ProviderConfig.id)
            .execution_options(yield_per=batch)
        )
        async for row in rows:
            if (problem := unreadable(ring, row)) is not None:
                found.append(problem)
    return found


@dataclass
class CheckReport:
    """What the start-up check found, sorted into what the operator must do about it."""

    missing_kids: list[str] = field(default_factory=list)
    wrong_keys: dict[str, int] = field(default_factory=dict)  # kid -> rows, none of which opens
    rows: list[Unreadable] = field(default_factory=list)  # single rows under a key that works

    def message(self) -> str:
        parts: list[str] = []
        if self.missing_kids:
            parts.append("Stored provider keys are wrapped by encryption key id(s) " + ", ".join(self.missing_kids)
                         + " which the configured key ring does not have. Add them back (rotation needs the old "
                         "keys until `rolecall keys rotate` has finished).")
        for kid, count in self.wrong_keys.items():
            parts.append(f"The configured encryption key {kid!r} is not the key that encrypted the stored provider "
                         f"keys: none of its {count} stored key(s) opens with it. Restore the original key file or "
                         "ROLECALL_ENCRYPTION_KEYS.")
        if self.rows:
            listed = "\n".join("  - " + r.line() for r in self.rows[:MAX_LISTED])
            more = f"\n  ... and {len(self.rows) - MAX_LISTED} more" if len(self.rows) > MAX_LISTED else ""
            parts.append(f"{len(self.rows)} stored provider key(s) can't be decrypted, although the key ring opens "
                         f"the others:\n{listed}{more}\nList them with `rolecall keys check`; "
                         "`rolecall keys check --mark-unusable` sets them aside (their owners are asked to re-enter "
                         "the key) so the server can start.")
        if self.missing_kids or self.wrong_keys:
            parts.append(LOST_KEY_WAY_ON)
        return "\n".join(parts)


def sort_problems(found: list[Unreadable], counts: dict[str, int]) -> CheckReport | None:
    if not found:
        return None
    report = CheckReport()
    failing = Counter(r.key_id for r in found if not r.missing_key)
    report.missing_kids = sorted({r.key_id for r in found if r.missing_key})
    report.wrong_keys = {kid: n for kid, n in sorted(failing.items()) if n == counts.get(kid)}
    report.rows = [r for r in found if not r.missing_key and r.key_id not in report.wrong_keys]
    return report


async def check_key_ring(db: Sessions, ring: KeyRing) -> None:
    """Refuse to start while a stored credential can't be opened; the message says which and why."""
    report = sort_problems(await find_unreadable(db, ring), await key_counts(db))
    if report is not None:
        raise KeyRingProblem(report.message())


async def mark_unusable(db: Sessions, ring: KeyRing, config_ids: Iterable[str]) -> int:
    """Set aside credentials that can't be opened: the ciphertext goes, the card says "re-enter this key".

    Each row is checked again under a lock, so a key its owner re-entered meanwhile is kept.
    """
    marked = 0
    async with db.begin() as s:
        for config_id in config_ids:
            row = await s.get(ProviderConfig, config_id, with_for_update=True)
            if row is None or row.key_id is None or unreadable(ring, row) is None:
                continue
            row.credential_ct, row.key_id, row.key_hint = None, None, None
            row.options = {**(row.options or {}), "header_names": []}  # their values were in the bundle
            row.status, row.status_detail, row.last_tested_at = "invalid", RE_ENTER, utcnow()
            marked += 1
    return marked


async def key_counts(db: Sessions) -> dict[str, int]:
    async with db() as s:
        rows = await s.execute(
            select(ProviderConfig.key_id, func.count()).where(ProviderConfig.key_id.is_not(None)).group_by(ProviderConfig.key_id)
        )
        return {kid: count for kid, count in rows if kid is not None}


@dataclass(frozen=True)
class Rotation:
    rewrapped: int
    skipped: list[Unreadable]  # left under their old key: the ring can't open them


async def rotate(
    db: Sessions, ring: KeyRing, *, batch: int = 200, progress: Callable[[int], None] | None = None,
) -> Rotation:
    """Re-wrap every credential not under the primary key, one committed batch at a time.

    Resumable: an interrupted run leaves each row either old or new, and the next run picks up the
    rows still under an old key. On PostgreSQL, concurrent runs skip rows another run holds. A row
    the ring can't open is skipped (it keeps its old key) and reported; the others go on.
    """
    done = 0
    skipped: list[Unreadable] = []
    while True:
        async with db.begin() as s:
            query = select(ProviderConfig).where(
                ProviderConfig.key_id.is_not(None), ProviderConfig.key_id != ring.primary,
                ProviderConfig.id.not_in([r.config_id for r in skipped]),
            ).order_by(ProviderConfig.id).limit(batch)
            if s.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list(await s.scalars(query))
            moved = 0
            for row in rows:
                if (problem := unreadable(ring, row)) is not None:
                    skipped.append(problem)
                    continue
                row.credential_ct = srv.rewrap(row.credential_ct or "", ring, binding_of(row))
                row.key_id = ring.primary
                moved += 1
        if not rows:
            return Rotation(done, skipped)
        done += moved
        if progress:
            progress(len(rows))


def remove_key_from_file(path: Path, kid: str) -> None:
    """Drop `kid`'s entry from the key file (comments and the other entries kept), atomically, 0600."""
    kept: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#") or not line.strip():
            kept.append(line)
            continue
        entries = [e.strip() for e in line.split(",") if e.strip() and e.split(":", 1)[0].strip() != kid]
        if entries:
            kept.append(",".join(entries))
    text = "\n".join(kept) + "\n"
    _parse(text, str(path))  # never write a ring that would not load
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
