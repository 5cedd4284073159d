"""Property tests over the whole API: nothing a client sends makes the server fail (5xx), and
every answer is one the OpenAPI document lists.

Two parts, against a real `rolecall serve` on the run's database (SQLite, or PostgreSQL in CI's
second pass), logged in with encryption set up so the config routes go past their first checks:

* schemathesis generates requests for every operation from `/api/openapi.json`;
* hypothesis sends the abuse cases of issue 10 (NUL characters, deeply nested JSON in any text
  field, oversized bodies) to the routes that take text, and expects a clear 4xx.

Both are bounded (examples per operation, a deadline per request) to run in well under a minute.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.conftest import TEST_ENCRYPTION_KEYS, _empty_postgres
from tests.factories import e2e_record

# Logging out or resetting encryption mid-run would only make every later case a 401 or a 409.
SKIPPED = ("/api/auth/logout", "/api/encryption/reset")
LIMITS = {"ROLECALL_LIMITS__TESTS_PER_MINUTE": "1000", "ROLECALL_LIMITS__SAVES_PER_MINUTE": "1000",
          "ROLECALL_LIMITS__TEST_DEADLINE": "2", "ROLECALL_NETWORK__CONNECT_TIMEOUT": "1"}


class Live:
    def __init__(self, url: str, session: requests.Session, config_id: str) -> None:
        self.url, self.session, self.config_id = url, session, config_id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("rolecall serve exited")
        try:
            if requests.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("rolecall serve did not start")


def _log_in(url: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    session.headers["X-CSRF-Token"] = session.get(url + "/api/csrf").json()["csrf_token"]
    assert session.post(url + "/api/auth/signup", json={"name": "fuzzer", "password": "fuzzing password"}).status_code == 201
    record, _ = e2e_record(session.get(url + "/api/me").json()["id"])
    assert session.post(url + "/api/encryption/setup", json=record).status_code == 201
    saved = session.post(url + "/api/provider-configs", json={
        "provider_id": "openai", "label": "fuzz target", "privacy_mode": "srv", "api_key": "sk-fuzz-000000000000000000"})
    assert saved.status_code == 201, saved.text
    return session, saved.json()["id"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, postgres_url: str | None) -> Iterator[Live]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLECALL_") and k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(LIMITS)
    if postgres_url:
        env.update({"DATABASE_URL": postgres_url, "ROLECALL_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS})
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    process = subprocess.Popen([sys.executable, "-m", "rolecall", "serve", "--port", str(port), "--data-dir", str(data_dir)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process)
        session, config_id = _log_in(url)
        yield Live(url, session, config_id)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if postgres_url:
            import asyncio

            asyncio.run(_empty_postgres(postgres_url))


def _operations(live: Live) -> list[schemathesis.APIOperation]:
    # schemathesis' own pytest plugin does not run under this pytest; its strategies are driven
    # by hypothesis directly, one bounded run per operation.
    schema = schemathesis.openapi.from_url(live.url + "/api/openapi.json")
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if op.path not in SKIPPED]


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
                         ids=["valid input", "invalid input"])
def test_no_operation_fails_or_answers_off_the_document(live: Live, mode: schemathesis.GenerationMode) -> None:
    operations = _operations(live)
    assert len(operations) >= 20
    problems: set[tuple[str, str, int, str]] = set()  # every operation runs; all problems are listed at the end

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=12, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=live.url, session=live.session, timeout=15)
            documented = case.operation.definition.raw["responses"]
            if response.status_code >= 500 or str(response.status_code) not in documented:
                problems.add((case.method, case.operation.path, response.status_code, response.text[:200]))

        try:
            run()
        except Unsatisfiable:
            assert mode is schemathesis.GenerationMode.NEGATIVE  # nothing to get wrong: no input at all
    assert sorted(problems) == []


# --- the abuse cases of issue 10 -------------------------------------------------------------

TEXT_FIELDS = {
    "/api/auth/login": {"name": "fuzzer", "password": "x" * 10},
    "/api/provider-configs/test": {"provider_id": "openai", "api_key": "sk-fuzz-000000000000000000"},
    "/api/provider-configs": {"provider_id": "openai", "label": "x", "privacy_mode": "srv", "api_key": "sk-fuzz-0000000000000"},
    "/api/provider-configs/resolve": {"provider_id": "openai", "base_url": "https://example.com/v1"},
    "/api/scenes": {"title": "a scene", "character_ids": ["x"]},
    "/api/catalog/stars": {"section": "premiere", "model_id": "m"},
}
FIELDS = ["name", "password", "label", "api_key", "body", "headers", "base_url", "model", "title", "section", "model_id"]

nested = st.integers(min_value=40, max_value=4000).map(lambda n: '{"a":' + "[" * n + "]" * n + "}")
with_nul = st.text(max_size=20).map(lambda t: t + "\u0000" + t)
hostile = st.one_of(nested, with_nul, st.just("[" * 5000))


@given(path=st.sampled_from(sorted(TEXT_FIELDS)), field=st.sampled_from(FIELDS), value=hostile)
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_hostile_text_in_any_field_gets_a_clear_4xx(live: Live, path: str, field: str, value: str) -> None:
    body = {**TEXT_FIELDS[path], field: value}
    for method, target in (("POST", path), ("PATCH", f"/api/provider-configs/{live.config_id}")):
        response = live.session.request(method, live.url + target, json=body, timeout=15)
        assert response.status_code < 500, (target, field, response.text[:300])
        if "\u0000" in value:
            assert response.status_code == 400 and "NUL" in response.json()["error"], (target, field, response.text[:300])


@given(path=st.sampled_from(sorted(TEXT_FIELDS)), id_part=with_nul)
@settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_nul_in_a_path_id_gets_a_clear_400(live: Live, path: str, id_part: str) -> None:
    for method, target in (("GET", "/api/scenes/"), ("DELETE", "/api/provider-configs/"),
                           ("GET", "/api/catalog/sections/")):
        response = live.session.request(method, live.url + target + requests.utils.quote(id_part, safe=""), timeout=15)
        assert response.status_code == 400, (target, response.text[:300])


def test_an_oversized_body_is_413_in_the_error_shape(live: Live) -> None:
    response = live.session.post(live.url + "/api/auth/login", data=b"{" + b" " * (300 * 1024) + b"}",
                                 headers={"Content-Type": "application/json"}, timeout=15)
    assert response.status_code == 413 and response.json()["code"] == "too_large"
