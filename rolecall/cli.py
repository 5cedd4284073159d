"""Front door 3, the command line: serve, worker, migrate, and the `keys` and `providers` groups."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import webbrowser
from collections.abc import Callable

import click

from rolecall import __version__
from rolecall.config import Settings, SettingsError, describe_settings, load_settings
from rolecall.logs import setup_logging

log = logging.getLogger("rolecall")


def _settings(config: str | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except (SettingsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


config_option = click.option(
    "--config", type=click.Path(dir_okay=False), envvar="ROLECALL_CONFIG", help="TOML settings file."
)
data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False), help="Data directory (default: ~/.local/share/rolecall).")


@click.group()
@click.version_option(__version__, prog_name="rolecall")
@data_dir_option
@config_option
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, config: str | None) -> None:
    """RoleCall: chat with AI characters in scenes, on hosted models or your own provider keys."""
    # Subcommands without their own flags (keys ...) build settings from these, lazily.
    ctx.obj = {"settings": lambda: _settings(config, data_dir=data_dir)}


@main.command(epilog=describe_settings(), context_settings={"max_content_width": 110})
@click.option("--host", help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8000; 0 picks a free one).")
@data_dir_option
@config_option
@click.option("--open", "open_browser", is_flag=True, help="Open the app in a web browser once it is ready.")
def serve(host: str | None, port: int | None, data_dir: str | None, config: str | None, open_browser: bool) -> None:
    """Run the web app. With no settings: SQLite in the data dir and an in-process job worker."""
    import uvicorn

    from rolecall.app import SERVER_LIMITS, create_app

    settings = _settings(config, host=host, port=port, data_dir=data_dir)
    setup_logging(settings.log_level)
    _preflight(settings)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(
        app, host=settings.host, port=settings.port, log_config=None, proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips, server_header=False, **SERVER_LIMITS,
    ))

    async def announce() -> None:
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else settings.port
        url = f"http://{settings.host}:{port}/"
        store = "SQLite in " + str(settings.data_dir) if settings.is_sqlite else "PostgreSQL"
        log.info("RoleCall %s is ready at %s (%s)", __version__, url, store)
        if open_browser:
            webbrowser.open(url)

    async def run() -> None:
        announcer = asyncio.create_task(announce())
        await server.serve()
        announcer.cancel()

    with asyncio.Runner(loop_factory=_serving_loop()) as runner:
        runner.run(run())
    if not server.started:
        sys.exit(1)


def _serving_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (uvicorn[standard] brings it everywhere but Windows): a relayed
    chunk that arrives on its own is mostly the event loop's work, a read and a send, which
    uvloop does in C (docs/decisions.md, "`rolecall serve` runs on uvloop"). Else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _preflight(settings: Settings) -> None:
    """Open everything once before serving, so a bad key ring or database stops start-up with its message."""
    from rolecall.resources import open_resources
    from rolecall.services.keyring import KeyRingProblem

    async def check() -> None:
        async with open_resources(settings, consume_jobs=False):
            pass

    try:
        asyncio.run(check())
    except KeyRingProblem as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@data_dir_option
@config_option
def worker(data_dir: str | None, config: str | None) -> None:
    """Run background jobs from the shared Redis queue (needs REDIS_URL)."""
    from rolecall.resources import open_resources

    settings = _settings(config, data_dir=data_dir)
    setup_logging(settings.log_level)
    if not settings.redis_url:
        raise click.ClickException("A separate worker needs REDIS_URL; without it `rolecall serve` runs jobs itself.")
    _preflight(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with open_resources(settings, consume_jobs=True, run_migrations=False):
            log.info("worker is consuming jobs from Redis")
            await stop.wait()
        log.info("worker stopped")

    asyncio.run(run())


@main.command()
@data_dir_option
@config_option
def migrate(data_dir: str | None, config: str | None) -> None:
    """Bring the database schema up to date, then exit."""
    from rolecall.storage import migrate as migrations
    from rolecall.storage.db import make_engine, make_private_dir

    settings = _settings(config, data_dir=data_dir)
    setup_logging(settings.log_level)
    make_private_dir(settings.data_dir)

    async def run() -> str | None:
        engine = make_engine(settings.effective_database_url)
        try:
            await migrations.upgrade(engine)
            return await migrations.current_revision(engine)
        finally:
            await engine.dispose()

    click.echo(f"database is at revision {asyncio.run(run())}")


def _attach_groups() -> None:
    from rolecall.cli_keys import keys_group
    from rolecall.cli_providers import providers

    main.add_command(keys_group)
    main.add_command(providers)


_attach_groups()
