"""Jobs run against the real fake OpenAI upstream; configs are made through the app's own code.

`worker_settings` and `spawn`: real `rolecall worker` processes on a real Redis, sharing the
test's database (a module picks them with ``settings = worker_settings``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rolecall.config import JobSettings, NetworkSettings, Settings
from tests.conftest import REDIS_URL, TEST_ENCRYPTION_KEYS
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
LEASE = 2.0


@pytest.fixture
def worker_settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]), redis_url=REDIS_URL,
                         redis_prefix=f"test-{secrets.token_hex(4)}",
                         jobs=JobSettings(lease_seconds=LEASE, tick_seconds=0.3, retry_delay=0))


@pytest.fixture
def spawn(settings: Settings) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `python -m rolecall worker` processes sharing the test's database and Redis."""
    started: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ROLECALL_DATA_DIR": str(settings.data_dir),
           "REDIS_URL": REDIS_URL, "ROLECALL_REDIS_PREFIX": settings.redis_prefix,
           "ROLECALL_JOBS__LEASE_SECONDS": str(LEASE), "ROLECALL_JOBS__TICK_SECONDS": "0.3",
           "ROLECALL_JOBS__RETRY_DELAY": "0", "ROLECALL_NETWORK__ALLOW_PRIVATE": json.dumps(["127.0.0.0/8"])}
    if settings.database_url:
        env |= {"DATABASE_URL": settings.database_url, "ROLECALL_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS}

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-m", "rolecall", "worker"], env=env, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
