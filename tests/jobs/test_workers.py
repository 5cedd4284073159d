"""Real `rolecall worker` processes on a real Redis: a worker killed mid-job, workers racing one
job, a schedule with two workers, an E2E config; and `serve` with REDIS_URL runs no jobs itself."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest
from redis.asyncio import Redis

from rolecall.services import jobs, schedules
from rolecall.services.connections import E2E_IN_BACKGROUND
from rolecall.services.jobs import JobView
from rolecall.storage.tables import JobRecord, ProviderConfig
from tests.conftest import REDIS_URL
from tests.factories import add_provider_config, e2e_record
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers, until


@pytest.fixture
def settings(worker_settings):  # type: ignore[no-untyped-def]
    return worker_settings


async def _view(res, job_id: str) -> JobView:  # type: ignore[no-untyped-def]
    view = await jobs.get_any(res.db, job_id)
    assert view is not None
    return view


async def _srv_config(res, alice, fake) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    account_id = (await alice.get("/api/me")).json()["id"]
    row = await add_provider_config(res.db, account_id, mode="srv", ring=res.keyring, api_key=VALID_KEY, origin=fake.url)
    return account_id, row.id


def _model_list_calls(fake) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in fake.requests if r.path.endswith("/models"))


async def test_serve_with_redis_leaves_jobs_to_workers(app, alice, fake_openai, spawn) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    account_id, config_id = await _srv_config(res, alice, fake_openai)
    job_id = await jobs.submit(res, "refresh_models", {"config_id": config_id}, account_id=account_id)
    redis = Redis.from_url(REDIS_URL)
    try:
        # waiting in Redis for a worker
        assert await redis.zscore(f"{res.settings.redis_prefix}:jobs", f"{job_id}.0") is not None
    finally:
        await redis.aclose()
    assert (await alice.get(f"/api/jobs/{job_id}")).json()["status"] == "queued"
    spawn()
    done = await until(lambda: _done(res, job_id))
    assert done.attempts == 1 and done.result == {"models": 4}
    assert _model_list_calls(fake_openai) == 1


async def _done(res, job_id: str) -> JobView | None:  # type: ignore[no-untyped-def]
    view = await _view(res, job_id)
    return view if view.status in ("done", "failed") else None


async def test_a_worker_killed_mid_job_is_replaced_and_the_job_completes_once(app, alice, fake_openai, spawn) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    account_id, config_id = await _srv_config(res, alice, fake_openai)
    fake_openai.models.append({"id": "arrived-later", "object": "model"})
    fake_openai.models_drip = 0.05  # the model list takes a minute: the worker is mid-job
    first = spawn()
    job_id = await jobs.submit(res, "refresh_models", {"config_id": config_id}, account_id=account_id,
                               key=f"refresh:{config_id}:1")
    await until(lambda: _running_with_request(res, job_id, fake_openai))
    first.send_signal(signal.SIGKILL)
    first.wait()
    fake_openai.models_drip = 0.0
    spawn()
    done = await until(lambda: _done(res, job_id))
    assert (done.status, done.attempts, done.result) == ("done", 2, {"models": 5})
    assert "interrupted" in done.note
    # The same key again is the same job, not a second run.
    assert await jobs.submit(res, "refresh_models", {"config_id": config_id}, account_id=account_id,
                             key=f"refresh:{config_id}:1") == job_id
    async with res.db() as s:
        rows = (await s.execute(JobRecord.__table__.select().where(JobRecord.name == "refresh_models"))).all()
        config = await s.get_one(ProviderConfig, config_id)
    assert len(rows) == 1 and rows[0].progress is None
    assert "arrived-later" in [m["id"] for m in config.models]
    assert _model_list_calls(fake_openai) == 2  # one per attempt: the dead worker's and the retry


async def _running_with_request(res, job_id: str, fake) -> bool:  # type: ignore[no-untyped-def]
    return (await _view(res, job_id)).status == "running" and _model_list_calls(fake) == 1


async def test_two_workers_racing_one_job_run_it_once(app, alice, fake_openai, spawn) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    account_id, config_id = await _srv_config(res, alice, fake_openai)
    fake_openai.models_drip = 0.002  # both deliveries arrive while the first runs
    spawn(), spawn()
    await asyncio.sleep(3)  # both workers up and polling
    job_id, _ = await jobs.record(res.db, "refresh_models", {"config_id": config_id}, account_id=account_id,
                                  key=None, max_attempts=3)
    for _ in range(4):  # four deliveries of one job, with ids arq will not merge
        await jobs.deliver(res, job_id, 0, again=True)
    done = await until(lambda: _done(res, job_id))
    await asyncio.sleep(1)  # late deliveries have had their chance
    assert (done.status, done.attempts) == ("done", 1)
    assert _model_list_calls(fake_openai) == 1


async def test_a_schedule_with_two_workers_fires_once_per_due_time(app, spawn) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    schedule = await schedules.add(res.db, label="purge", job_name="purge_expired_sessions", every_seconds=2,
                                   min_every=1)
    spawn(), spawn()

    async def three_done() -> list[Any] | None:
        async with res.db() as s:
            rows = list(await s.scalars(JobRecord.__table__.select().where(JobRecord.status == "done")))
        return rows if len(rows) >= 3 else None

    await until(three_done, timeout=90)
    async with res.db() as s:
        rows = (await s.execute(JobRecord.__table__.select())).all()
    keys = sorted(r.idempotency_key for r in rows)
    assert all(k.startswith(f"schedule:{schedule.id}:") for k in keys)
    assert len(keys) == len(set(keys))
    assert all(r.attempts <= 1 for r in rows)  # no job ran twice


async def test_an_e2e_config_fails_in_a_worker_without_an_upstream_call(app, alice, fake_openai, spawn) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    account_id = (await alice.get("/api/me")).json()["id"]
    record, udk = e2e_record(account_id)
    await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))
    row = await add_provider_config(res.db, account_id, mode="e2e", udk=udk, api_key=VALID_KEY, origin=fake_openai.url)
    spawn()
    job_id = await jobs.submit(res, "refresh_models", {"config_id": row.id}, account_id=account_id)
    done = await until(lambda: _done(res, job_id))
    assert (done.status, done.attempts, done.error) == ("failed", 1, E2E_IN_BACKGROUND)
    body = (await alice.get(f"/api/jobs/{job_id}")).json()
    assert body["status"] == "failed" and body["error"] == E2E_IN_BACKGROUND
    assert fake_openai.requests == []
