"""`rolecall keys`: the server key ring for Server-Accessible provider keyring.

status, new, rotate, check (which stored keys the ring can't open; --mark-unusable sets them
aside) and retire (drop a key no stored row uses).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rolecall.config import Settings
from rolecall.crypto import generate_key_file_text
from rolecall.services import keyring
from rolecall.storage.db import make_engine, make_sessionmaker

T = TypeVar("T")


def _with_db(settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = make_engine(settings.effective_database_url)
        try:
            return await work(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _ring(settings: Settings):  # type: ignore[no-untyped-def]
    try:
        return keyring.load_key_ring(settings)
    except keyring.KeyRingProblem as exc:
        raise click.ClickException(str(exc)) from None


@click.group("keys")
def keys_group() -> None:
    """Manage the server key ring that wraps Server-Accessible provider keyring."""


@keys_group.command("status")
@click.pass_obj
def status(obj: dict[str, Any]) -> None:
    """How many stored keys each key id wraps, and which id is primary."""
    settings: Settings = obj["settings"]()
    ring = _ring(settings)

    async def run() -> dict[str, int]:
        engine = make_engine(settings.effective_database_url)
        try:
            return await keyring.key_counts(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    counts = asyncio.run(run())
    for kid in dict.fromkeys([*ring.kids, *counts]):
        mark = " (primary)" if kid == ring.primary else ("" if kid in ring else " (MISSING from the ring)")
        click.echo(f"{kid}{mark}: {counts.get(kid, 0)} stored key(s)")


@keys_group.command("new")
@click.pass_obj
def new(obj: dict[str, Any]) -> None:
    """Add a new primary key: first in the key file, or printed for ROLECALL_ENCRYPTION_KEYS."""
    settings: Settings = obj["settings"]()
    path = keyring.key_file_path(settings)
    if settings.encryption_keys is not None or path is None:
        line = generate_key_file_text(keyring.new_kid()).strip()
        click.echo("Put this entry FIRST in ROLECALL_ENCRYPTION_KEYS on every replica, keep the old entries, "
                   "then run `rolecall keys rotate`:")
        click.echo(line)
        return
    kid = keyring.add_key_to_file(path)
    click.echo(f"Added key {kid} as the primary in {path}. Restart the servers, then run `rolecall keys rotate`.")


@keys_group.command("rotate")
@click.option("--batch", default=200, show_default=True, help="Rows re-wrapped per transaction.")
@click.pass_obj
def rotate(obj: dict[str, Any], batch: int) -> None:
    """Re-wrap every stored key under the primary key. Safe to interrupt and run again."""
    settings: Settings = obj["settings"]()
    ring = _ring(settings)

    async def work(db: async_sessionmaker[AsyncSession]) -> keyring.Rotation:
        counts = await keyring.key_counts(db)
        todo = sum(n for kid, n in counts.items() if kid != ring.primary)
        with click.progressbar(length=todo, label=f"Re-wrapping under {ring.primary}") as bar:
            return await keyring.rotate(db, ring, batch=batch, progress=bar.update)

    result = _with_db(settings, work)
    if not result.skipped:
        click.echo(f"Re-wrapped {result.rewrapped} stored key(s); every key is now under {ring.primary}.")
        return
    total = result.rewrapped + len(result.skipped)
    click.echo(f"Re-wrapped {result.rewrapped} of {total} stored key(s) under {ring.primary}.")
    raise click.ClickException(
        f"{len(result.skipped)} stored key(s) could not be decrypted and keep their old key:\n"
        + "\n".join("  - " + r.line() for r in result.skipped)
        + "\nSee `rolecall keys check`; `rolecall keys check --mark-unusable` sets them aside."
    )


@keys_group.command("check")
@click.option("--mark-unusable", is_flag=True,
              help="Set aside the keys that can't be decrypted: their owners are asked to re-enter them.")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
@click.pass_obj
def check(obj: dict[str, Any], mark_unusable: bool, yes: bool) -> None:
    """List stored keys the key ring can't decrypt (exit status 1 if there are any)."""
    settings: Settings = obj["settings"]()
    ring = _ring(settings)
    found = _with_db(settings, lambda db: keyring.find_unreadable(db, ring))
    if not found:
        click.echo("Every stored key opens with the configured key ring.")
        return
    click.echo(f"{len(found)} stored key(s) can't be decrypted:")
    for problem in found:
        click.echo("  - " + problem.line())
    if not mark_unusable:
        raise click.ClickException("Fix the key ring, or run `rolecall keys check --mark-unusable` to set them aside.")
    if not yes:
        click.confirm(f"Set aside these {len(found)} key(s)? Their ciphertext is deleted and their owners must "
                      "re-enter the key. Don't do this if the key ring is simply the wrong one.", abort=True)
    marked = _with_db(settings, lambda db: keyring.mark_unusable(db, ring, [p.config_id for p in found]))
    click.echo(f"Marked {marked} config(s) unusable; their cards say to re-enter the key. The server can start now.")


@keys_group.command("retire")
@click.argument("kid")
@click.pass_obj
def retire(obj: dict[str, Any], kid: str) -> None:
    """Remove key KID from the ring once no stored key uses it."""
    settings: Settings = obj["settings"]()
    ring = _ring(settings)
    if kid not in ring:
        raise click.ClickException(f"The key ring has no key {kid!r}.")
    if kid == ring.primary:
        raise click.ClickException(f"{kid} is the primary key: add a new one with `rolecall keys new`, run "
                                   "`rolecall keys rotate`, then retire this one.")
    in_use = _with_db(settings, keyring.key_counts).get(kid, 0)
    if in_use:
        raise click.ClickException(
            f"{in_use} stored key(s) still use {kid}. Run `rolecall keys rotate` first; keys it can't decrypt are "
            "listed by `rolecall keys check` (and set aside with --mark-unusable)."
        )
    path = keyring.key_file_path(settings)
    if settings.encryption_keys is not None or path is None:
        click.echo(f"No stored key uses {kid}. Remove its entry from ROLECALL_ENCRYPTION_KEYS on every replica "
                   "and restart them.")
        return
    keyring.remove_key_from_file(path, kid)
    click.echo(f"Retired {kid}: removed from {path}. Restart the servers to drop it from memory.")
