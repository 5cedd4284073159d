"""The usage log: buffered off the hot path, written on shutdown, paged, filtered, exported."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from rolecall.resources import open_resources
from rolecall.services import usage
from rolecall.services.errors import Invalid, NotFound
from rolecall.services.usage import Attempt, Filters
from tests.services.conftest import add_account

DAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def attempt(account_id: str, **fields) -> Attempt:  # type: ignore[no-untyped-def]
    values = {"section": "cfg-1", "config_label": "OpenRouter fallback", "provider": "openrouter",
              "model": "anthropic/claude-sonnet-4.5", "outcome": "ok", "input_tokens": 1000, "output_tokens": 500,
              "latency_ms": 900, "ttft_ms": 180, "at": DAY} | fields
    return Attempt(account_id=account_id, **values)


async def test_record_returns_at_once_and_shutdown_writes_the_rows(settings) -> None:  # type: ignore[no-untyped-def]
    async with open_resources(settings, consume_jobs=False) as res:
        alice = await add_account(res, "alice")
        usage.record(res, attempt(alice, outcome="interrupted", reason="The server stopped mid-stream"))
        usage.record(res, attempt(alice, outcome="skipped", reason="End-to-end encrypted keys can't be used by background jobs"))
        # Nothing awaited yet: the rows are only in the buffer, the stream did not wait on the database.
        assert (await usage.page(res.db, alice, Filters())).rows == []
    async with open_resources(settings, consume_jobs=False) as res:
        rows = (await usage.page(res.db, alice, Filters())).rows
    assert sorted(r.outcome for r in rows) == ["interrupted", "skipped"]


async def test_the_writer_flushes_in_the_background(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    usage.record(res, attempt(alice))
    assert res.usage is not None and await res.usage.flush() == 1
    row = (await usage.page(res.db, alice, Filters())).rows[0]
    assert (row.config_label, row.provider, row.model, row.outcome) == ("OpenRouter fallback", "openrouter",
                                                                        "anthropic/claude-sonnet-4.5", "ok")
    assert row.cost_usd == pytest.approx(1000 * 3 / 1e6 + 500 * 15 / 1e6)  # curated list price
    assert (row.latency_ms, row.ttft_ms, row.input_tokens, row.output_tokens) == (900, 180, 1000, 500)


async def test_costs_prefer_a_known_price_and_stay_unknown_without_one(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    usage.record(res, attempt(alice, section="premiere", config_label="Premiere Theater", model="house-llama",
                              known_price=(0.1, 0.2), premiere_tokens=1500))
    usage.record(res, attempt(alice, model="some/unknown-model"))
    await res.usage.flush()
    rows = {r.model: r for r in (await usage.page(res.db, alice, Filters())).rows}
    assert rows["house-llama"].cost_usd == pytest.approx(0.0002) and rows["house-llama"].premiere_tokens == 1500
    assert rows["some/unknown-model"].cost_usd is None


async def test_pages_filters_and_isolation(res) -> None:  # type: ignore[no-untyped-def]
    alice, bob = await add_account(res, "alice"), await add_account(res, "bob")
    for n in range(7):
        usage.record(res, attempt(alice, at=DAY + timedelta(hours=n), outcome="error" if n % 3 == 0 else "ok",
                                  error_kind="unavailable" if n % 3 == 0 else ""))
    usage.record(res, attempt(alice, section="premiere", config_label="Premiere Theater", at=DAY - timedelta(days=2)))
    usage.record(res, attempt(bob))
    await res.usage.flush()
    first = await usage.page(res.db, alice, Filters(), limit=5)
    second = await usage.page(res.db, alice, Filters(), limit=5, cursor=first.next_cursor)
    assert len(first.rows) == 5 and len(second.rows) == 3 and second.next_cursor is None
    ats = [r.at for r in first.rows + second.rows]
    assert ats == sorted(ats, reverse=True) and len({r.id for r in first.rows + second.rows}) == 8
    errors = await usage.page(res.db, alice, Filters(outcome="error"))
    assert [r.error_kind for r in errors.rows] == ["unavailable"] * 3
    assert len((await usage.page(res.db, alice, Filters(section="premiere"))).rows) == 1
    assert len((await usage.page(res.db, alice, Filters(since=DAY.date(), until=DAY.date()))).rows) == 7
    with pytest.raises(NotFound):
        await usage.get(res.db, bob, first.rows[0].id)
    with pytest.raises(Invalid):
        await usage.page(res.db, alice, Filters(outcome="exploded"))


async def test_csv_export_and_tokens_per_day(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    usage.record(res, attempt(alice, reason="=HYPERLINK(\"http://x\")", outcome="error", input_tokens=None, output_tokens=None))
    usage.record(res, attempt(alice, at=DAY + timedelta(days=1)))
    usage.record(res, attempt(alice, section="premiere", config_label="Premiere Theater", input_tokens=10, output_tokens=20))
    await res.usage.flush()
    rows = await usage.all_rows(res.db, alice, Filters())
    table = list(csv.DictReader(io.StringIO(usage.to_csv(rows))))
    assert len(table) == 3 and table[0]["model"] == "anthropic/claude-sonnet-4.5"
    assert next(r for r in table if r["outcome"] == "error")["reason"].startswith("'=")  # not a formula
    daily = usage.daily_tokens(rows, date(2026, 11, 28), date(2026, 11, 29))
    assert daily.series == {("cfg-1", "OpenRouter fallback"): [0, 1500], ("premiere", "Premiere Theater"): [30, 0]}
