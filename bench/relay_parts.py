"""The processes and set-up of `bench_relay.py`: the fake upstream, `rolecall serve`, LiteLLM's proxy
(where installed), one stream per path, and the database work each path makes, timed alone.

Not a benchmark by itself: `bench_relay.py` imports it and prints every figure.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import httpx

from rolecall.crypto import generate_key_file_text
from tests.factories import e2e_record

KEY = "sk-test-VALID-0123456789abcdefghijklmnop"
CHUNKS = 50
LONG = 1000  # chunks per turn for the marginal CPU figure
PACE = 0.0005  # seconds between chunks for the paced marginal CPU figure: each chunk its own read
MODEL = "gpt-4o-mini"
LABEL = "fake"  # the bench config's label: the API's model name is "fake/gpt-4o-mini"
DOWN = "down-model"  # the bench fake answers 503 at once for this model (the fallback case's primary)
PG_SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TICK = os.sysconf("SC_CLK_TCK")
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "Go"}], "stream": True,
        "stream_options": {"include_usage": True}}
AUTH = {"authorization": f"Bearer {KEY}"}
# The bench's clients drop an idle connection before the servers would (`rolecall serve` and the
# fake close one after 5 s idle): reusing a connection the server is closing at that moment fails
# with httpx.ReadError (seen on runs with --baseline, whose cases leave one server's connections
# idle while the other's run).
KEEPALIVE = 2.0
CLIENT_LIMITS = httpx.Limits(max_connections=200, keepalive_expiry=KEEPALIVE)
# The first text piece as the fake and RoleCall write it, and as a re-encoding proxy may (with a space).
FIRST = (b'"content":"tok', b'"content": "tok')


# --- the fake upstream (child process) ---------------------------------------------------------

def _serve_fake(conn: Any) -> None:
    from tests.fakes.openai_compat import FakeOpenAI

    cache: dict[Any, list[bytes]] = {}

    class BenchFake(FakeOpenAI):
        def stream_frames(self, model: str, include_usage: bool) -> list[bytes]:
            key = (model, include_usage, self.reply.text)
            if key not in cache:
                cache[key] = super().stream_frames(model, include_usage)
            self.requests.clear()  # the fake keeps no history during a benchmark
            return cache[key]

        async def chat(self, request: Any) -> Any:
            from starlette.responses import JSONResponse

            if json.loads(await request.body()).get("model") == DOWN:
                return JSONResponse({"error": {"message": "overloaded", "type": "server_error"}}, status_code=503)
            return await super().chat(request)

    fake = BenchFake().start()
    fake.reply.text = " ".join(["tok"] * CHUNKS)
    conn.send(fake.port)
    while (message := conn.recv()) != "stop":
        chunks, delay, first = message
        fake.reply.text, fake.plan.chunk_delay = " ".join(["tok"] * chunks), delay
        fake.plan.first_byte_delay = first
        conn.send("ok")
    fake.stop()


class Fake:
    def __init__(self) -> None:
        self._conn, child = mp.Pipe()
        self._proc = mp.get_context("spawn").Process(target=_serve_fake, args=(child,), daemon=True)
        self._proc.start()
        self.port: int = self._conn.recv()
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def set(self, chunks: int = CHUNKS, delay: float = 0.0, first: float = 0.0) -> None:
        """``delay`` between frames; ``first``: the provider's own time to its first byte."""
        self._conn.send((chunks, delay, first))
        self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(timeout=10)


# --- servers (child processes) -----------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server child process: its address, CPU and memory."""

    proc: subprocess.Popen[bytes]
    url: str
    name = "the server"

    async def wait(self, path: str = "/readyz", headers: dict[str, str] | None = None, tries: int = 600) -> None:
        async with httpx.AsyncClient() as client:
            for _ in range(tries):
                if self.proc.poll() is not None:
                    break
                try:
                    if (await client.get(self.url + path, headers=headers)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start")

    def cpu(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the server process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICK, int(fields[12]) / TICK

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class App(Server):
    def __init__(self, data_dir: Path, database_url: str | None, checkout: Path | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") and k not in ("DATABASE_URL", "REDIS_URL")}
        # One bench account runs 32 streams (and holds 64 open for the memory figure): a bench
        # setting lifts the per-account and per-destination provider-call slots (8 and 32 by default),
        # and the API's per-token request rate.
        env.update({"ROLECALL_LIMITS__OUTBOUND_PER_ACCOUNT": "128", "ROLECALL_LIMITS__OUTBOUND_PER_ORIGIN": "128",
                    "ROLECALL_LIMITS__API_REQUESTS_PER_MINUTE": "1000000000"})
        # The fallback case's primary fails every time: its circuit must stay closed so each turn pays the failed call.
        env["ROLECALL_BREAKER__THRESHOLD"] = "1000000000"
        env.update({"ROLECALL_NETWORK__ALLOW_PRIVATE": '["127.0.0.0/8"]', "ROLECALL_LOG_LEVEL": "WARNING",
                    "PYTHONPATH": str(checkout or Path(__file__).resolve().parents[1]),
                    # `python -m` would put the working directory first on sys.path, ahead of PYTHONPATH:
                    # a baseline started from this checkout would run this checkout's code.
                    "PYTHONSAFEPATH": "1"})
        if database_url:
            env["DATABASE_URL"] = database_url
            env["ROLECALL_ENCRYPTION_KEYS"] = generate_key_file_text("bench").strip()
        self.database_url = database_url or f"sqlite+aiosqlite:///{data_dir / 'rolecall.db'}"
        self.proc = subprocess.Popen([sys.executable, "-m", "rolecall", "serve", "--port", str(self.port),
                                      "--data-dir", str(data_dir)], env=env)


LITELLM_KEY = "sk-bench-litellm-master"


def litellm_python(given: str | None) -> str | None:
    """The interpreter to run LiteLLM's proxy with: ``given`` (e.g. a throwaway venv's), else this one,
    if `import litellm.proxy.proxy_cli` works there; None when LiteLLM is not present."""
    python = given or sys.executable
    found = subprocess.run([python, "-c", "import litellm.proxy.proxy_cli"], capture_output=True, check=False,
                           env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    return python if found.returncode == 0 else None


class LiteLLM(Server):
    """LiteLLM's OpenAI-compatible proxy (one worker, no database) in front of the same fake."""

    name = "LiteLLM's proxy"

    def __init__(self, python: str, upstream: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.dir = Path(tempfile.mkdtemp(prefix="bench-litellm-"))
        config = {"model_list": [{"model_name": MODEL, "litellm_params": {
                      "model": f"openai/{MODEL}", "api_base": upstream, "api_key": KEY}}],
                  "general_settings": {"master_key": LITELLM_KEY},
                  "litellm_settings": {"drop_params": True, "telemetry": False}}
        (self.dir / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
        # Its own environment: no database (it would try to migrate one), the price map bundled
        # with the package (it fetches one at start otherwise), no telemetry.
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PYTHONPATH")}
        env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR", "TELEMETRY": "False"})
        self.log = open(self.dir / "proxy.log", "wb")  # noqa: SIM115 (open for the process's life)
        self.proc = subprocess.Popen([python, "-m", "litellm.proxy.proxy_cli", "--config", str(self.dir / "config.yaml"),
                                      "--host", "127.0.0.1", "--port", str(self.port), "--num_workers", "1"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)

    async def ready(self) -> None:
        try:
            await self.wait("/models", {"authorization": f"Bearer {LITELLM_KEY}"}, tries=1200)
        except RuntimeError:
            raise RuntimeError("LiteLLM's proxy did not start:\n" + (self.dir / "proxy.log").read_text()[-2000:]) from None

    def stop(self) -> None:
        super().stop()
        self.log.close()


class Floor(Server):
    """`relay_floor.py`: a minimal aiohttp pass-through proxy in front of the same fake (no code of ours)."""

    name = "the floor proxy"

    def __init__(self, upstream: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("relay_floor.py")), upstream,
                                      str(self.port)])

    async def ready(self) -> None:
        await self.wait("/models")


# --- set-up through the API --------------------------------------------------------------------

@dataclass
class Site:
    """One RoleCall server as the cases use it: a signed-in client and what the account holds."""

    app: App
    client: httpx.AsyncClient
    config_id: str
    character_id: str
    token: str  # a personal access token (chat scope) for /v1


async def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": (await client.get("/api/csrf")).json()["csrf_token"]}


async def set_up(app: App, fake: Fake) -> Site:
    """An account with encryption, a Server-Accessible config on the fake, a character and a token."""
    await app.wait()
    client = httpx.AsyncClient(base_url=app.url, timeout=60, limits=CLIENT_LIMITS)
    h = await csrf(client)
    await client.post("/api/auth/signup", json={"name": "bench", "password": "correct horse battery"}, headers=h)
    account_id = (await client.get("/api/me")).json()["id"]
    h = await csrf(client)
    record, _ = e2e_record(account_id)
    await client.post("/api/encryption/setup", json=record, headers=h)
    config = await client.post("/api/provider-configs", headers=h, json={
        "provider_id": "openai", "base_url": fake.url, "label": LABEL, "privacy_mode": "srv", "api_key": KEY})
    character = await client.post("/api/characters", headers=h, json={
        "name": "Mira", "persona": "A lighthouse keeper.", "first_message": "Storm's coming."})
    token = await client.post("/api/access-tokens", headers=h, json={"name": "bench", "scopes": ["chat"]})
    assert token.status_code == 201, token.text
    return Site(app, client, config.json()["id"], character.json()["id"], token.json()["token"])


async def new_scene(site: Site, model: str = MODEL) -> str:
    h = await csrf(site.client)
    scene = (await site.client.post("/api/scenes", json={"character_ids": [site.character_id]}, headers=h)).json()
    await site.client.patch(f"/api/scenes/{scene['id']}", json={"model": {"section": site.config_id, "model_id": model}},
                            headers=h)
    return str(scene["id"])


async def default_preset(site: Site) -> None:
    """The account's default preset: one slot, the model that streams (a scene whose own model is
    DOWN falls back to it; for the other scenes it repeats their model and is dropped from the walk)."""
    made = await site.client.post("/api/presets", headers=await csrf(site.client), json={
        "name": "Bench", "is_default": True, "slots": [{"section": site.config_id, "model_id": MODEL}]})
    assert made.status_code == 201, made.text


# --- one stream per path -----------------------------------------------------------------------
# The load generator is aiohttp for every served case (RoleCall, the floor proxy, LiteLLM) and for
# the direct reference it is judged against: a plain httpx client reaches only ~100-250 streams/s
# at c=32 here, so driving a server with it measures the client (docs/decisions.md, "The relay
# bench's load generator"). `openai_stream` (httpx) runs only as the direct-httpx reference.

async def openai_stream(http: httpx.AsyncClient, url: str, model: str, headers: dict[str, str]) -> float:
    """One streamed chat completion read to its end with httpx: the time from sending the request
    to the first text piece."""
    start = time.perf_counter()
    first = 0.0
    async with http.stream("POST", url + "/chat/completions", json={**BODY, "model": model}, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {(await response.aread())[:300]!r}")
        async for chunk in response.aiter_raw():
            if not first and (FIRST[0] in chunk or FIRST[1] in chunk):
                first = time.perf_counter() - start
    if not first:
        raise RuntimeError(f"{url}: no text in the stream")
    return first


async def _aio_stream(session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str],
                      marks: tuple[bytes, ...]) -> float:
    """One streamed answer read to its end with aiohttp: the time from sending to the first chunk with a mark."""
    start = time.perf_counter()
    first = 0.0
    async with session.post(url, json=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status} {(await response.read())[:300]!r}")
        async for chunk in response.content.iter_any():
            if not first and any(mark in chunk for mark in marks):
                first = time.perf_counter() - start
    if not first:
        raise RuntimeError(f"{url}: no text in the stream")
    return first


async def aio_openai_stream(session: aiohttp.ClientSession, url: str, model: str, headers: dict[str, str]) -> float:
    """One streamed chat completion (the fake itself, RoleCall's /v1, the floor proxy or LiteLLM's)."""
    return await _aio_stream(session, url + "/chat/completions", {**BODY, "model": model}, headers, FIRST)


async def direct_503(session: aiohttp.ClientSession, url: str) -> float:
    """The failed call alone: the time to the 503 answer of the fallback case's primary."""
    start = time.perf_counter()
    async with session.post(url + "/chat/completions", json={**BODY, "model": DOWN}, headers=AUTH) as response:
        await response.read()
        if response.status != 503:
            raise RuntimeError("the fake did not fail the primary")
    return time.perf_counter() - start


async def browser_headers(site: Site) -> dict[str, str]:
    """What the scene page sends with a turn: its CSRF header and the session's cookies."""
    headers = await csrf(site.client)
    return {**headers, "cookie": "; ".join(f"{c.name}={c.value}" for c in site.client.cookies.jar)}


async def relay(session: aiohttp.ClientSession, site: Site, scene_id: str, headers: dict[str, str]) -> float:
    """One scene turn read to the end of its event stream: the time to the first delta."""
    return await _aio_stream(session, f"{site.app.url}/api/scenes/{scene_id}/messages", {"text": "Go on."}, headers,
                             (b"event: delta",))


async def postgres_database() -> tuple[str, Any]:
    """A new database on the PostgreSQL server, and a function that drops it."""
    import asyncpg

    name = f"bench_relay_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_SERVER)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        c = await asyncpg.connect(PG_SERVER)
        await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await c.close()

    return PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name, drop
