"""Test Key overhead: `POST /api/provider-configs/{id}/test` over HTTP against the bare upstream call.

A FakeOpenAI with 250 models runs in a child process; `rolecall serve` runs as its own process on
an empty SQLite data dir (loopback allowed, the Test rate limit raised for the run). One
Server-Accessible config points at the fake. Each round times, in an order that rotates every round:

* bare: `GET /v1/models` on the fake straight from this process (httpx, keep-alive): the upstream
  call alone, outside our code;
* saved: Test Key on the saved config over HTTP (session, CSRF, decrypt, check, store status and list);
* unsaved: Test before saving over HTTP (check, remember the result for "Save after Test");
* floor: `GET /api/me` over HTTP, the least a logged-in request costs here (HTTP parsing, our
  middleware, FastAPI, the session lookup): what Test Key pays before any of its own work.

With `--baseline DIR` a second `rolecall serve` runs from another checkout (e.g. a clone of `main`)
and its two cases are interleaved in the same rounds, so both builds see the same machine load.

Prints, per case: median and p90 wall time, the median minus the bare median, and CPU per call:
the server's (all its threads) and the fake's, read from /proc around every call. A reading has a
10 ms tick, so a per-call median of it means nothing: the CPU figure is the total over all rounds
divided by the calls. On a busy machine wall times mostly measure waiting for a core; the server's
CPU per call is the figure to compare. Target (issue 10): Test Key within 2 ms of the upstream call.

Run: `python bench/bench_test_key.py [rounds] [--baseline DIR]`
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from tests.factories import e2e_record

KEY = "sk-test-VALID-0123456789abcdefghijklmnop"
MODELS = 250


def _serve(conn: Any) -> None:
    """Child process: the fake provider, with a realistic list of 250 models."""
    from tests.fakes.openai_compat import FakeOpenAI

    class QuietFake(FakeOpenAI):
        async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
            await super()._asgi(scope, receive, send)
            self.requests.clear()  # the bench sends thousands; keep memory flat

    fake = QuietFake().start()
    fake.models = [{"id": f"vendor/model-{n}", "object": "model", "created": 1700000000, "owned_by": "vendor"}
                   for n in range(MODELS)]
    conn.send(fake.port)
    conn.recv()
    fake.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(data_dir: Path, code: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"ROLECALL_NETWORK__ALLOW_PRIVATE": '["127.0.0.0/8"]', "ROLECALL_LIMITS__TESTS_PER_MINUTE": "1000000",
                "ROLECALL_LOG_LEVEL": "WARNING", "PYTHONPATH": str(code),
                # `python -m` puts the working directory first on sys.path: without this a baseline
                # started from this checkout would import this checkout's code.
                "PYTHONSAFEPATH": "1"})
    process = subprocess.Popen([sys.executable, "-m", "rolecall", "serve", "--port", str(port), "--data-dir", str(data_dir)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a loaded machine starts slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("rolecall serve did not start")


def _set_up(app: httpx.Client, fake_base: str) -> str:
    token = app.get("/api/csrf").json()["csrf_token"]
    app.headers["X-CSRF-Token"] = token
    assert app.post("/api/auth/signup", json={"name": "bench", "password": "benchmark password"}).status_code == 201
    record, _ = e2e_record(app.get("/api/me").json()["id"])
    assert app.post("/api/encryption/setup", json=record).status_code == 201
    saved = app.post("/api/provider-configs", json={"provider_id": "openai", "base_url": fake_base, "api_key": KEY,
                                                    "label": "bench", "privacy_mode": "srv"})
    assert saved.status_code == 201, saved.text
    return str(saved.json()["id"])


def _cpu_ms(pid: int) -> float:
    """User + system CPU time of a process so far, in ms (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _timed(call: Any, pids: tuple[int, int]) -> tuple[float, float, float]:
    """(wall ms, server CPU ms, fake CPU ms) for one call."""
    server_before, fake_before = _cpu_ms(pids[0]), _cpu_ms(pids[1])
    started = time.perf_counter()
    call()
    wall = (time.perf_counter() - started) * 1000
    return wall, _cpu_ms(pids[0]) - server_before, _cpu_ms(pids[1]) - fake_before


def _cases(app: httpx.Client, fake_base: str, tag: str) -> dict[str, Any]:
    config_id = _set_up(app, fake_base)
    unsaved_body = {"provider_id": "openai", "base_url": fake_base, "api_key": KEY}

    def saved() -> None:
        assert app.post(f"/api/provider-configs/{config_id}/test", json={}).json()["status"] == "valid"

    def unsaved() -> None:
        assert app.post("/api/provider-configs/test", json=unsaved_body).json()["models_count"] == MODELS

    def me() -> None:
        assert app.get("/api/me").status_code == 200

    return {f"Test Key, saved{tag}": saved, f"Test before saving{tag}": unsaved, f"{FLOOR}{tag}": me}


def _report(rounds: int, timings: dict[str, list[float]], cpu: dict[str, list[tuple[float, float]]]) -> None:
    base = statistics.median(timings[BARE])
    base_fake = statistics.fmean(v[1] for v in cpu[BARE])
    print(f"Test Key over HTTP, {rounds} interleaved rounds, {MODELS} models per list")
    print(f"  {'case':<34} {'median':>8} {'p90':>8} {'- bare':>8} {'server CPU':>11} {'fake CPU':>9}")
    for name, values in timings.items():
        median = statistics.median(values)
        p90 = sorted(values)[int(len(values) * 0.9)]
        server_ms = statistics.fmean(v[0] for v in cpu[name])
        fake_ms = statistics.fmean(v[1] for v in cpu[name])
        print(f"  {name:<34} {median:6.2f}ms {p90:6.2f}ms {median - base:+6.2f}ms {server_ms:8.2f} ms {fake_ms:6.2f} ms")
    floor = statistics.median(timings[FLOOR])
    for name in (n for n in timings if n.startswith(("Test Key", "Test before"))):
        print(f"  {name:<34} {statistics.median(timings[name]) / base:5.1f}x the bare call; "
              f"{statistics.median(timings[name]) - base - floor:+6.2f} ms beyond bare call + floor")
    print(f"  bare upstream call: {base:.2f} ms wall, the fake's CPU {base_fake:.2f} ms per answer; 'server CPU' is "
          "RoleCall's own work per Test (the fake's answer is not in it)")
    print(json.dumps({name: round(statistics.median(v), 3) for name, v in timings.items()}))


BARE = "bare upstream call"
FLOOR = "floor: GET /api/me"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", type=int, nargs="?", default=300, help="rounds of every case (default: 300)")
    parser.add_argument("--baseline", type=Path, help="another checkout to run beside this one")
    args = parser.parse_args()
    rounds, baseline = args.rounds, args.baseline.resolve() if args.baseline else None
    parent, child = mp.Pipe()
    fake = mp.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    fake.start()
    fake_base = f"http://127.0.0.1:{parent.recv()}/v1"
    builds = [("", Path(__file__).resolve().parent.parent)] + ([(" (baseline)", baseline)] if baseline else [])
    servers: list[subprocess.Popen[bytes]] = []
    clients: list[httpx.Client] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            upstream = httpx.Client()
            clients.append(upstream)

            def bare() -> None:
                response = upstream.get(fake_base + "/models", headers={"Authorization": f"Bearer {KEY}"})
                assert len(response.json()["data"]) == MODELS

            cases: dict[str, Any] = {BARE: bare}
            owners: dict[str, int] = {BARE: 0}
            for n, (tag, code) in enumerate(builds):
                server, url = _start_server(Path(tmp) / f"data{n}", code)
                servers.append(server)
                app = httpx.Client(base_url=url)
                clients.append(app)
                for name, call in _cases(app, fake_base, tag).items():
                    cases[name] = call
                    owners[name] = server.pid
            for call in cases.values():  # warm up: connections, caches, import-heavy first paths
                for _ in range(20):
                    call()
            timings: dict[str, list[float]] = {name: [] for name in cases}
            cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
            names = list(cases)
            for round_no in range(rounds):  # the order rotates each round: no case always follows another
                for name in names[round_no % len(names):] + names[:round_no % len(names)]:
                    call = cases[name]
                    wall, server_cpu, fake_cpu = _timed(call, (owners[name] or servers[0].pid, fake.pid or 0))
                    timings[name].append(wall)
                    cpu[name].append((server_cpu if owners[name] else 0.0, fake_cpu))
        finally:
            for client in clients:
                client.close()
            for server in servers:
                server.terminate()
                server.wait(timeout=10)
            parent.send("stop")
            fake.join(timeout=10)
    _report(rounds, timings, cpu)


if __name__ == "__main__":
    main()
