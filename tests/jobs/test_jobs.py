"""Job records in the embedded default: status through the API, idempotency, retries, lost
workers, one run for racing deliveries, schedules that fire once, and E2E keys refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from rolecall.config import JobSettings, NetworkSettings
from rolecall.jobs import tasks
from rolecall.jobs.runner import Runner
from rolecall.services import jobs, schedules
from rolecall.services.connections import E2E_IN_BACKGROUND
from rolecall.storage.tables import JobRecord, LoginSession, utcnow
from tests.factories import add_provider_config, e2e_record
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers, make_client, sign_up


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]),
                         jobs=JobSettings(retry_delay=0, lease_seconds=30, tick_seconds=3600))


async def _account(client) -> str:  # type: ignore[no-untyped-def]
    return (await client.get("/api/me")).json()["id"]  # type: ignore[no-any-return]


async def _srv_config(app, account_id: str, fake) -> str:  # type: ignore[no-untyped-def]
    res = app.state.res
    row = await add_provider_config(res.db, account_id, mode="srv", ring=res.keyring, api_key=VALID_KEY,
                                    origin=fake.url)
    return row.id  # type: ignore[no-any-return]


def _model_list_calls(fake) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in fake.requests if r.path.endswith("/models"))


async def test_a_refresh_job_is_visible_to_its_owner_only(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    config_id = await _srv_config(app, await _account(alice), fake_openai)
    job_id = await jobs.submit(res, "refresh_models", {"config_id": config_id}, account_id=await _account(alice))
    await res.queue.drain()
    body = (await alice.get(f"/api/jobs/{job_id}")).json()
    assert body["status"] == "done" and body["attempts"] == 1 and body["error"] == ""
    assert body["result"] == {"models": 4} and body["finished_at"]
    assert [j["id"] for j in (await alice.get("/api/jobs")).json()] == [job_id]
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        assert (await bob.get(f"/api/jobs/{job_id}")).status_code == 404
        assert (await bob.get("/api/jobs")).json() == []


async def test_an_e2e_config_fails_with_the_guides_message_and_no_upstream_call(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    account_id = await _account(alice)
    record, udk = e2e_record(account_id)
    await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))
    row = await add_provider_config(res.db, account_id, mode="e2e", udk=udk, api_key=VALID_KEY, origin=fake_openai.url)
    job_id = await jobs.submit(res, "refresh_models", {"config_id": row.id}, account_id=account_id)
    await res.queue.drain()
    body = (await alice.get(f"/api/jobs/{job_id}")).json()
    assert body["status"] == "failed" and body["attempts"] == 1  # not retried
    assert body["error"] == E2E_IN_BACKGROUND
    assert "Server-Accessible" in body["error"]
    assert fake_openai.requests == []


async def test_the_same_idempotency_key_is_one_job(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    account_id = await _account(alice)
    config_id = await _srv_config(app, account_id, fake_openai)
    ids = [await jobs.submit(res, "refresh_models", {"config_id": config_id}, account_id=account_id, key="refresh:1")
           for _ in range(3)]
    await res.queue.drain()
    assert len(set(ids)) == 1
    assert _model_list_calls(fake_openai) == 1
    assert len((await alice.get("/api/jobs")).json()) == 1


async def test_purge_expired_sessions_job(app, alice) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    await res.queue.drain()  # the hourly purge a log-in submits runs first, not over this test's row
    async with res.db.begin() as s:
        s.add(LoginSession(token_hash="0" * 64, account_id=await _account(alice), expires_at=utcnow() - timedelta(days=1)))
    job_id = await jobs.submit(res, "purge_expired_sessions")
    await res.queue.drain()
    async with res.db() as s:
        assert await s.get(LoginSession, "0" * 64) is None
    view = await jobs.get_any(res.db, job_id)
    assert view is not None and view.status == "done" and view.result == {"purged": 1}


async def test_racing_deliveries_run_a_job_once(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    account_id = await _account(alice)
    config_id = await _srv_config(app, account_id, fake_openai)
    fake_openai.models_drip = 0.001  # slow enough that both deliveries arrive while it runs
    job_id, _ = await jobs.record(res.db, "refresh_models", {"config_id": config_id}, account_id=account_id,
                                  key=None, max_attempts=3)
    one, two = Runner(tasks.JOBS), Runner(tasks.JOBS)
    await asyncio.gather(one.run_job(res, job_id), two.run_job(res, job_id), one.run_job(res, job_id))
    assert _model_list_calls(fake_openai) == 1
    view = await jobs.get_any(res.db, job_id)
    assert view is not None and view.status == "done" and view.attempts == 1


async def test_a_job_whose_worker_vanished_is_retried_once_and_says_so(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    account_id = await _account(alice)
    config_id = await _srv_config(app, account_id, fake_openai)
    job_id, _ = await jobs.record(res.db, "refresh_models", {"config_id": config_id}, account_id=account_id,
                                  key=None, max_attempts=3)
    # A worker took it, recorded half its work and died: its lease runs out.
    assert await jobs.claim(res.db, job_id, "dead-worker", lease_seconds=30)
    async with jobs.running(res.db, jobs.Lease(job_id, "dead-worker")):
        assert await jobs.record_progress({"models_seen": 2})
    async with res.db.begin() as s:
        (await s.get_one(JobRecord, job_id)).lease_until = utcnow() - timedelta(seconds=1)
    runner = Runner(tasks.JOBS)
    await runner.tick(res)
    await res.queue.drain()
    await runner.tick(res)  # a second sweep finds nothing more to do
    await res.queue.drain()
    view = await jobs.get_any(res.db, job_id)
    assert view is not None and view.status == "done" and view.attempts == 2
    assert view.result == {"models": 4} and "interrupted" in view.note
    assert _model_list_calls(fake_openai) == 1
    async with res.db() as s:
        assert (await s.get_one(JobRecord, job_id)).progress is None  # the partial record was replaced
    # The dead worker cannot write a result after the fact.
    assert not await jobs.finish(res.db, jobs.Lease(job_id, "dead-worker"), {"models": 0})


async def test_failures_are_retried_with_a_reason_then_fail(app) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    calls: list[int] = []

    async def flaky(res: Any, succeed_on: int) -> str:
        calls.append(len(calls) + 1)
        if len(calls) < succeed_on:
            raise ConnectionError("upstream went away")
        return "ok"

    runner = Runner({"flaky": flaky})
    res.queue.register(jobs.RUN_JOB, runner.run_job)
    try:
        ok = await jobs.submit(res, "flaky", {"succeed_on": 2})
        await res.queue.drain()
        done = await jobs.get_any(res.db, ok)
        assert done is not None and (done.status, done.attempts, done.result) == ("done", 2, "ok")
        calls.clear()
        bad = await jobs.submit(res, "flaky", {"succeed_on": 99})
        await res.queue.drain()
        failed = await jobs.get_any(res.db, bad)
        assert failed is not None and (failed.status, failed.attempts) == ("failed", 3)
        assert failed.error == "The job failed (ConnectionError) and was not retried again."
        assert len(calls) == 3
    finally:
        res.queue.register(jobs.RUN_JOB, tasks.register_all(res.queue).run_job)


async def test_a_due_schedule_fires_once_for_racing_workers(app) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    due = utcnow() - timedelta(seconds=1)
    schedule = await schedules.add(res.db, label="nightly purge", job_name="purge_expired_sessions",
                                   daily_at="03:00", first_run_at=due)
    await asyncio.gather(*[schedules.claim_due(res.db, max_attempts=3) for _ in range(4)])
    assert await schedules.claim_due(res.db, max_attempts=3) == []  # next due time is tomorrow 03:00
    async with res.db() as s:  # the app's own upkeep loop may be one of the racers
        fired = list(await s.scalars(select(JobRecord.id).where(JobRecord.name == "purge_expired_sessions")))
    after = await schedules.get(res.db, schedule.id)
    assert after is not None and after.next_run_at.endswith("03:00:00+00:00") and fired == [after.last_job_id]


def test_daily_and_interval_due_times() -> None:
    now = utcnow().replace(hour=4, minute=0, second=0, microsecond=0)
    assert schedules.next_time(daily_at="03:00", every_seconds=None, after=now) == now + timedelta(hours=23)
    assert schedules.next_time(daily_at="05:30", every_seconds=None, after=now) == now + timedelta(hours=1, minutes=30)
    assert schedules.next_time(daily_at=None, every_seconds=60, after=now) == now + timedelta(minutes=1)
