"""Schedules in the person's time zone (issue 13, item 6): the browser sends its IANA zone, a nightly
time is on that zone's clock through daylight-saving changes, and schedules made before keep UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from rolecall.services import passes, schedules
from rolecall.services.errors import Invalid
from rolecall.storage import migrate
from rolecall.storage.db import make_engine
from rolecall.storage.tables import JobSchedule, utcnow
from tests.background_fixtures import settings  # noqa: F401
from tests.conftest import POSTGRES_URL, create_postgres_database, drop_postgres_database
from tests.fakes.server import VALID_KEY
from tests.jobs.pass_helpers import add_turns, scene_on
from tests.scene_helpers import post, server_config

NEW_YORK = ZoneInfo("America/New_York")


def _local(iso: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _fires(daily_at: str, zone: str, start: datetime, days: int) -> list[datetime]:
    """Each due time in turn, as the upkeep computes them after each firing."""
    due, found = start, []
    for _ in range(days):
        due = schedules.next_time(daily_at=daily_at, every_seconds=None, after=due, time_zone=zone)
        found.append(due)
    return found


def test_a_nightly_time_stays_on_the_local_clock_through_daylight_saving() -> None:
    # New York moves its clocks on 2026-03-08 (02:00 -> 03:00) and 2026-11-01 (02:00 -> 01:00).
    spring = _fires("03:00", "America/New_York", datetime(2026, 3, 6, 12, tzinfo=UTC), 4)
    assert [d.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for d in spring] == [
        "03-07 03:00", "03-08 03:00", "03-09 03:00", "03-10 03:00"]
    assert [d.strftime("%H:%M") for d in spring] == ["08:00", "07:00", "07:00", "07:00"]  # in UTC
    autumn = _fires("03:00", "America/New_York", datetime(2026, 10, 30, 12, tzinfo=UTC), 3)
    assert [d.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for d in autumn] == ["10-31 03:00", "11-01 03:00",
                                                                               "11-02 03:00"]
    # A time the clocks skip fires right after the jump; one that happens twice fires once.
    skipped = _fires("02:30", "America/New_York", datetime(2026, 3, 7, 12, tzinfo=UTC), 2)
    assert [d.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for d in skipped] == ["03-08 03:30", "03-09 02:30"]
    twice = _fires("01:30", "America/New_York", datetime(2026, 10, 31, 12, tzinfo=UTC), 2)
    assert [d.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for d in twice] == ["11-01 01:30", "11-02 01:30"]
    assert twice[1] - twice[0] == timedelta(hours=25)
    # Without a zone it is UTC, as before.
    assert _fires("03:00", None, datetime(2026, 3, 7, 12, tzinfo=UTC), 1) == [datetime(2026, 3, 8, 3, tzinfo=UTC)]  # type: ignore[arg-type]


async def _scene_with_reply(app, owner, fake) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    config_id = await server_config(owner, "openai", fake.base_url, VALID_KEY)
    scene = await scene_on(owner, config_id)
    reply_id = (await add_turns(app.state.res, owner.account_id, scene["id"], ["Evening.", "Evening to you."]))[1]
    return scene["id"], reply_id


async def test_a_nightly_summary_runs_at_the_persons_local_time_and_stays_there(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    scene_id, _ = await _scene_with_reply(app, owner, fake_openai)
    made = await post(owner.client, "/api/schedules", {"kind": "summary", "scene_id": scene_id, "daily_at": "03:00",
                                                       "time_zone": "America/New_York"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["daily_at"], body["time_zone"]) == ("03:00", "America/New_York")
    assert _local(body["next_run_at"], NEW_YORK).endswith(" 03:00")
    listed = (await owner.client.get(f"/api/scenes/{scene_id}/passes")).json()["schedules"]
    assert [(s["id"], s["time_zone"]) for s in listed] == [(body["id"], "America/New_York")]
    # It fires (one upkeep wins), and the next night is 03:00 in New York again, not in UTC.
    async with res.db.begin() as s:
        (await s.get_one(JobSchedule, body["id"])).next_run_at = utcnow() - timedelta(seconds=1)
    assert len(await schedules.claim_due(res.db, max_attempts=3)) == 1
    after = await schedules.get(res.db, body["id"])
    assert after is not None and _local(after.next_run_at, NEW_YORK).endswith(" 03:00")
    assert datetime.fromisoformat(after.next_run_at) - utcnow() <= timedelta(days=1)


async def test_a_regeneration_at_a_local_wall_clock_time(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    scene_id, reply_id = await _scene_with_reply(app, owner, fake_openai)
    tomorrow = (datetime.now(NEW_YORK) + timedelta(days=1)).strftime("%Y-%m-%d")
    made = await post(owner.client, "/api/schedules", {"kind": "regenerate", "scene_id": scene_id,
                                                       "message_id": reply_id, "run_at": f"{tomorrow}T03:00:00",
                                                       "time_zone": "America/New_York"})
    assert made.status_code == 201, made.text
    assert _local(made.json()["next_run_at"], NEW_YORK) == f"{tomorrow} 03:00"
    assert made.json()["time_zone"] == "America/New_York"
    plain = await post(owner.client, "/api/schedules", {"kind": "summary", "scene_id": scene_id})
    assert plain.json()["time_zone"] == "UTC" and plain.json()["next_run_at"].endswith("T03:00:00+00:00")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../../passwd", "/etc/localtime", "Europe/", "x" * 65])
async def test_an_unknown_time_zone_is_refused_with_the_field(app, owner, fake_openai, zone) -> None:  # type: ignore[no-untyped-def]
    scene_id, _ = await _scene_with_reply(app, owner, fake_openai)
    refused = await post(owner.client, "/api/schedules", {"kind": "summary", "scene_id": scene_id, "time_zone": zone})
    assert refused.status_code in (400, 422) and refused.json()["field"] == "time_zone", refused.text
    assert (await owner.client.get("/api/schedules")).json() == {"schedules": []}
    with pytest.raises(Invalid):
        await passes.add_schedule(app.state.res, owner.account_id, kind="summary", scene_id=scene_id, time_zone=zone)


async def _schedules_made_before_keep_utc(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate.upgrade(engine, "0013")
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO job_schedule (id, label, job_name, params, daily_at, run_once, "
                                    "next_run_at, created_at) VALUES ('s1', 'nightly', 'summarize_scene', '{}', "
                                    "'03:00', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT time_zone FROM job_schedule"))).scalar_one() == "UTC"
    finally:
        await engine.dispose()


async def test_schedules_made_before_the_migration_keep_utc_on_sqlite(tmp_path: Path) -> None:
    await _schedules_made_before_keep_utc(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")


@pytest.mark.skipif(not POSTGRES_URL, reason="runs when DATABASE_URL points at PostgreSQL (CI's second pass)")
async def test_schedules_made_before_the_migration_keep_utc_on_postgres() -> None:
    assert POSTGRES_URL is not None
    url = await create_postgres_database(POSTGRES_URL)
    try:
        await _schedules_made_before_keep_utc(url)
    finally:
        await drop_postgres_database(url)
