"""How long `rolecall serve` takes, on an empty data dir, to answer /readyz with 200.

Measured from the moment the process is spawned (so Python start-up, imports, database
creation and migrations all count) until the first 200 from /readyz, polling every 10 ms.
Target: under 3 seconds. Run: `python bench/bench_startup.py [runs]`.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run() -> float:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "rolecall", "serve", "--port", str(port), "--data-dir", str(Path(tmp) / "data")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                        if response.status == 200:
                            return time.perf_counter() - started
                except OSError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError("server exited")
                if time.perf_counter() - started > 30:
                    raise RuntimeError("not ready after 30 s")
                time.sleep(0.01)
        finally:
            proc.terminate()
            proc.wait()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times = [one_run() for _ in range(runs)]
    print(f"rolecall serve, empty data dir -> /readyz 200, {runs} runs")
    print(f"  median {statistics.median(times):.2f} s   min {min(times):.2f} s   max {max(times):.2f} s   (target < 3 s)")


if __name__ == "__main__":
    main()
