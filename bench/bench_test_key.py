"""Test Key overhead: `POST /api/provider-configs/{id}/test` over HTTP against the bare upstream call.

A FakeOpenAI with 250 models runs in a child process; `rolecall serve` runs as its own process on
an empty SQLite data dir (loopback allowed, the Test rate limit raised for the run). One
Server-Accessible config points at the fake. Each round, in the same order, times:

* bare: `GET /v1/models` on the fake straight from this process (httpx, keep-alive): the upstream
  call alone, outside our code;
* saved: Test Key on the saved config over HTTP (session, CSRF, decrypt, check, store status and list);
* unsaved: Test before saving over HTTP (check, remember the result for "Save after Test").

Prints medians and p90 per case, and each case's median minus and divided by the bare median.
On a busy machine wall times mostly measure waiting for a core, so it also prints CPU time per
call: the server's and the fake's (read from /proc around every call; each reading has a 10 ms
tick, so only the mean over many calls means anything). Target (issue 10): Test Key within 2 ms
of the upstream call.

Run: `python bench/bench_test_key.py [rounds]`
"""

from __future__ import annotations

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


def _start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"ROLECALL_NETWORK__ALLOW_PRIVATE": '["127.0.0.0/8"]', "ROLECALL_LIMITS__TESTS_PER_MINUTE": "1000000",
                "ROLECALL_LOG_LEVEL": "WARNING", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    process = subprocess.Popen([sys.executable, "-m", "rolecall", "serve", "--port", str(port), "--data-dir", str(data_dir)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
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


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    parent, child = mp.Pipe()
    fake = mp.get_context("spawn").Process(target=_serve, args=(child,), daemon=True)
    fake.start()
    fake_base = f"http://127.0.0.1:{parent.recv()}/v1"
    with tempfile.TemporaryDirectory() as tmp:
        server, url = _start_server(Path(tmp) / "data")
        try:
            with httpx.Client(base_url=url) as app, httpx.Client() as upstream:
                config_id = _set_up(app, fake_base)
                unsaved_body = {"provider_id": "openai", "base_url": fake_base, "api_key": KEY}

                def bare() -> None:
                    response = upstream.get(fake_base + "/models", headers={"Authorization": f"Bearer {KEY}"})
                    assert len(response.json()["data"]) == MODELS

                def saved() -> None:
                    assert app.post(f"/api/provider-configs/{config_id}/test", json={}).json()["status"] == "valid"

                def unsaved() -> None:
                    assert app.post("/api/provider-configs/test", json=unsaved_body).json()["models_count"] == MODELS

                cases = {"bare upstream call": bare, "Test Key (saved config)": saved, "Test before saving": unsaved}
                for call in cases.values():  # warm up: connections, caches, JIT-free but import-heavy paths
                    for _ in range(20):
                        call()
                timings: dict[str, list[float]] = {name: [] for name in cases}
                cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
                pids = (server.pid, fake.pid or 0)
                for _ in range(rounds):
                    for name, call in cases.items():
                        wall, server_cpu, fake_cpu = _timed(call, pids)
                        timings[name].append(wall)
                        cpu[name].append((server_cpu, fake_cpu))
        finally:
            server.terminate()
            server.wait(timeout=10)
            parent.send("stop")
            fake.join(timeout=10)
    base = statistics.median(timings["bare upstream call"])
    print(f"Test Key over HTTP, {rounds} interleaved rounds, {MODELS} models per list")
    for name, values in timings.items():
        median = statistics.median(values)
        p90 = sorted(values)[int(len(values) * 0.9)]
        print(f"  {name:<26} median {median:6.2f} ms  p90 {p90:6.2f} ms  "
              f"(+{median - base:5.2f} ms, x{median / base:4.1f} the bare call)")
    print("CPU per call (mean): the fake's own work, and the server's on top of it")
    for name, values in cpu.items():
        server_ms = statistics.fmean(v[0] for v in values)
        fake_ms = statistics.fmean(v[1] for v in values)
        print(f"  {name:<26} server {server_ms:5.2f} ms  fake {fake_ms:5.2f} ms")
    print(json.dumps({name: round(statistics.median(v), 3) for name, v in timings.items()}))


if __name__ == "__main__":
    main()
