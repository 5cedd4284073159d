"""`rolecall keys`: the server key ring for Server-Accessible provider keys (status, new, rotate)."""

from __future__ import annotations

import asyncio

import click

from rolecall.config import Settings
from rolecall.crypto import generate_key_file_text
from rolecall.services import keyring
from rolecall.storage.db import make_engine, make_sessionmaker


def _ring(settings: Settings):  # type: ignore[no-untyped-def]
    try:
        return keyring.load_key_ring(settings)
    except keyring.KeyRingProblem as exc:
        raise click.ClickException(str(exc)) from None


@click.group("keys")
def keys_group() -> None:
    """Manage the server key ring that wraps Server-Accessible provider keys."""


@keys_group.command("status")
@click.pass_obj
def status(obj: dict) -> None:
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
def new(obj: dict) -> None:
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
def rotate(obj: dict, batch: int) -> None:
    """Re-wrap every stored key under the primary key. Safe to interrupt and run again."""
    settings: Settings = obj["settings"]()
    ring = _ring(settings)

    async def run() -> int:
        engine = make_engine(settings.effective_database_url)
        db = make_sessionmaker(engine)
        try:
            counts = await keyring.key_counts(db)
            todo = sum(n for kid, n in counts.items() if kid != ring.primary)
            missing = ring.missing(counts)
            if missing:
                raise click.ClickException("The key ring lacks key id(s) " + ", ".join(missing) + " still in use.")
            with click.progressbar(length=todo, label=f"Re-wrapping under {ring.primary}") as bar:
                return await keyring.rotate(db, ring, batch=batch, progress=bar.update)
        finally:
            await engine.dispose()

    done = asyncio.run(run())
    click.echo(f"Re-wrapped {done} stored key(s); every key is now under {ring.primary}.")
