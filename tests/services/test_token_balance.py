"""Premiere Theater token balances: a ledger, exact under concurrent debits, refilled per period."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from rolecall.config import PremiereSettings
from rolecall.providers import Usage
from rolecall.services import token_balance
from rolecall.services.token_balance import BalanceEmpty
from rolecall.storage.tables import TokenLedger
from tests.services.conftest import add_account

POLICY = PremiereSettings(starting_grant=1000, refill_tokens=5000, refill_every="day")
DAY1 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
DAY2 = datetime(2026, 12, 2, 0, 0, 1, tzinfo=UTC)


async def test_a_new_account_starts_with_the_grant_and_debits_come_off_it(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    assert await token_balance.current(res.db, POLICY, alice, now=DAY1) == 1000  # not topped up to 5000 on day one
    await token_balance.debit(res.db, alice, 300, model_id="house-llama")
    assert await token_balance.current(res.db, POLICY, alice, now=DAY1) == 700
    assert await token_balance.current(res.db, POLICY, alice, now=DAY2) == 5000  # next day: topped up
    await token_balance.debit(res.db, alice, 6000)
    assert await token_balance.current(res.db, POLICY, alice, now=DAY2) == -1000  # an overdraft is carried


async def test_fifty_concurrent_debits_add_up_exactly(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    policy = PremiereSettings(starting_grant=100_000, refill_every="never")
    # The first touches race too: the grant must still be inserted once.
    await asyncio.gather(*(token_balance.current(res.db, policy, alice) for _ in range(10)))
    amounts = [17 * n + 1 for n in range(50)]
    await asyncio.gather(*(token_balance.debit(res.db, alice, n, model_id="m") for n in amounts))
    async with res.db() as s:
        debits = await s.scalar(select(func.count()).where(TokenLedger.account_id == alice, TokenLedger.kind == "debit"))
        grants = await s.scalar(select(func.count()).where(TokenLedger.account_id == alice, TokenLedger.kind == "grant"))
    assert debits == 50 and grants == 1
    assert await token_balance.current(res.db, policy, alice) == 100_000 - sum(amounts)


async def test_concurrent_first_use_of_a_period_refills_once(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    await token_balance.current(res.db, POLICY, alice, now=DAY1)
    await token_balance.debit(res.db, alice, 900)
    balances = await asyncio.gather(*(token_balance.current(res.db, POLICY, alice, now=DAY2) for _ in range(20)))
    assert set(balances) == {5000}
    async with res.db() as s:
        refills = await s.scalar(select(func.count()).where(TokenLedger.account_id == alice, TokenLedger.kind == "refill"))
    assert refills == 2  # day one's marker and day two's top-up


async def test_an_empty_balance_is_a_typed_error_naming_the_refill_date(res) -> None:  # type: ignore[no-untyped-def]
    alice = await add_account(res, "alice")
    await token_balance.current(res.db, POLICY, alice, now=DAY1)
    await token_balance.debit(res.db, alice, 1000)
    with pytest.raises(BalanceEmpty) as caught:
        await token_balance.require(res.db, POLICY, alice, now=DAY1)
    assert caught.value.message == ("Your Premiere Theater balance is empty; it refills on December 2, 2026, "
                                    "or add a BYOK provider")
    assert caught.value.refills_at == datetime(2026, 12, 2, tzinfo=UTC) and caught.value.status == 402
    assert await token_balance.require(res.db, POLICY, alice, now=DAY2) == 5000


def test_periods_and_refill_dates() -> None:
    sunday = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    assert token_balance.period_key("week", sunday) == "week:2026-W49"
    assert token_balance.next_refill("week", sunday) == datetime(2026, 12, 7, tzinfo=UTC)
    assert token_balance.next_refill("month", datetime(2026, 12, 31, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert token_balance.next_refill("never", sunday) is None


def test_tokens_come_from_the_upstream_else_a_documented_estimate() -> None:
    assert token_balance.tokens_used(Usage(input_tokens=12, output_tokens=30), "x" * 400, "y" * 400) == (42, False)
    assert token_balance.tokens_used(None, "x" * 401, "y" * 8) == (101 + 2, True)
