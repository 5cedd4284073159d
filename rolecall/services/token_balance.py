"""Every account's Premiere Theater token balance, kept as a ledger.

The balance is the sum of an account's ``token_ledger`` rows: a starting grant, one refill row
per period, and one debit row per Premiere generation (the tokens the upstream reported, or an
estimate when it reported none, see `tokens_used`). A debit is a single INSERT, so any number of
concurrent debits, on any number of replicas, add up exactly; nothing reads a number, changes it
and writes it back.

Refills top the balance up to ``refill_tokens`` at the start of each period (UTC midnight,
Monday, the 1st); unused tokens do not pile up. The grant and each refill are rows with a
``period`` key that is unique per account, so two requests settling the same period at once
insert it once. A generation that starts with a positive balance is allowed to finish: the
overdraft is carried into the next period (cutting a reply off mid-sentence would be worse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam, case, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from rolecall.config import PremiereSettings
from rolecall.providers import Usage
from rolecall.services.errors import ServiceError
from rolecall.storage import direct
from rolecall.storage.db import Sessions
from rolecall.storage.tables import TokenLedger, new_id, utcnow

GRANT = "grant"
CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text with BPE tokenizers


class BalanceEmpty(ServiceError):
    """The account has no Premiere tokens left. The gateway records it as the slot's skip reason."""

    status = 402
    code = "premiere_balance_empty"

    def __init__(self, message: str, *, refills_at: datetime | None) -> None:
        super().__init__(message)
        self.refills_at = refills_at


@dataclass(frozen=True)
class Debit:
    at: datetime
    tokens: int
    model_id: str


@dataclass(frozen=True)
class BalanceView:
    balance: int
    refill_tokens: int
    refill_every: str
    next_refill_at: datetime | None
    used_today: int
    recent: list[Debit]


def period_key(every: str, now: datetime) -> str | None:
    """The refill period ``now`` falls in ("day:2026-12-01", "week:2026-W49", "month:2026-12")."""
    day = now.astimezone(UTC).date()
    if every == "day":
        return f"day:{day.isoformat()}"
    if every == "week":
        year, week, _ = day.isocalendar()
        return f"week:{year}-W{week:02d}"
    if every == "month":
        return f"month:{day.year}-{day.month:02d}"
    return None


def next_refill(every: str, now: datetime) -> datetime | None:
    """When the next period starts (UTC), or None when balances never refill."""
    day = now.astimezone(UTC).date()
    if every == "day":
        start = day + timedelta(days=1)
    elif every == "week":
        start = day + timedelta(days=7 - day.weekday())
    elif every == "month":
        start = day.replace(year=day.year + (day.month == 12), month=day.month % 12 + 1, day=1)
    else:
        return None
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


def empty_message(refills_at: datetime | None) -> str:
    if refills_at is None:
        return "Your Premiere Theater balance is empty; add a BYOK provider to keep going"
    # The date is the UTC day the refill happens (refills run at UTC midnight).
    return (f"Your Premiere Theater balance is empty; it refills on {refills_at:%B} {refills_at.day}, "
            f"{refills_at.year}, or add a BYOK provider")


def estimate_tokens(text: str) -> int:
    """A documented estimate when an upstream reports no usage: one token per 4 characters."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def tokens_used(usage: Usage | None, prompt_text: str, output_text: str) -> tuple[int, bool]:
    """(tokens to debit, whether they are estimated): the upstream's count, else `estimate_tokens`."""
    if usage is not None and (usage.input_tokens is not None or usage.output_tokens is not None):
        return (usage.input_tokens or 0) + (usage.output_tokens or 0), False
    return estimate_tokens(prompt_text) + estimate_tokens(output_text), True


async def current(db: Sessions, policy: PremiereSettings, account_id: str, *, now: datetime | None = None) -> int:
    """The account's balance, after settling its grant and this period's refill.

    Every Premiere turn asks before its call. Once the grant and this period's refill are in (for
    every turn but a period's first), that is one read straight on the driver, no transaction."""
    moment = now or utcnow()
    period = period_key(policy.refill_every, moment)
    row = await direct.first(db, _BALANCE, {"account": account_id, "period": period})
    if row.has_grant and (row.has_period or not period):
        return int(row.balance)
    async with db.begin() as s:
        return await _settle(s, policy, account_id, moment)


async def require(db: Sessions, policy: PremiereSettings, account_id: str, *, now: datetime | None = None) -> int:
    """The balance if positive; else raise `BalanceEmpty` with the next refill date."""
    moment = now or utcnow()
    balance = await current(db, policy, account_id, now=moment)
    if balance <= 0:
        refills_at = next_refill(policy.refill_every, moment)
        raise BalanceEmpty(empty_message(refills_at), refills_at=refills_at)
    return balance


async def debit(db: Sessions, account_id: str, tokens: int, *, model_id: str = "", usage_id: str | None = None) -> None:
    """Take ``tokens`` off the balance: one inserted row, exact under any concurrency."""
    if tokens <= 0:
        return
    await direct.write(db, _DEBIT, {"id": new_id(), "account": account_id, "delta": -tokens, "usage": usage_id,
                                    "model": model_id[:200]})


async def view(db: Sessions, policy: PremiereSettings, account_id: str, *, recent: int = 10) -> BalanceView:
    """What Settings -> API Keys -> Token Balance shows."""
    now = utcnow()
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
    async with db.begin() as s:
        balance = await _settle(s, policy, account_id, now)
        debits = list(await s.scalars(
            select(TokenLedger).where(TokenLedger.account_id == account_id, TokenLedger.kind == "debit")
            .order_by(TokenLedger.at.desc(), TokenLedger.id).limit(recent)))
        used_today = await s.scalar(select(func.coalesce(func.sum(-TokenLedger.delta), 0)).where(
            TokenLedger.account_id == account_id, TokenLedger.kind == "debit", TokenLedger.at >= midnight))
    return BalanceView(balance, policy.refill_tokens, policy.refill_every, next_refill(policy.refill_every, now),
                       int(used_today or 0), [Debit(d.at, -d.delta, d.model_id) for d in debits])


async def _settle(s: AsyncSession, policy: PremiereSettings, account_id: str, now: datetime) -> int:
    """The balance, inserting the starting grant and this period's refill when they are missing.

    One query in the common case (both already there): the sum and the two markers together.
    """
    period = period_key(policy.refill_every, now)
    balance, has_grant, has_period = (await s.execute(_BALANCE_READ, {"account": account_id, "period": period})).one()
    balance = int(balance)
    if not has_grant:
        await _insert_once(s, account_id, "grant", GRANT, policy.starting_grant)
        if period:  # a new account starts with its grant, not with this period's top-up too
            await _insert_once(s, account_id, "refill", period, 0)
        return await _sum(s, account_id)
    if period and not has_period:
        await _insert_once(s, account_id, "refill", period, max(0, policy.refill_tokens - balance))
        return await _sum(s, account_id)
    return balance


# The balance and whether the grant and a period's refill are in, for one account.
_BALANCE_READ = (
    select(func.coalesce(func.sum(TokenLedger.delta), 0).label("balance"),
           func.coalesce(func.max(case((TokenLedger.period == GRANT, 1), else_=0)), 0).label("has_grant"),
           func.coalesce(func.max(case((TokenLedger.period == bindparam("period", type_=String), 1), else_=0)), 0)
           .label("has_period"))
    .where(TokenLedger.account_id == bindparam("account")))
_BALANCE = direct.Query(_BALANCE_READ)
# A Premiere generation's debit: one row, straight on the driver (it follows every Premiere turn).
_DEBIT = direct.Query(insert(TokenLedger).values(
    id=bindparam("id"), account_id=bindparam("account"), kind="debit", delta=bindparam("delta"),
    usage_id=bindparam("usage"), model_id=bindparam("model")))


async def _sum(s: AsyncSession, account_id: str) -> int:
    total = await s.scalar(select(func.coalesce(func.sum(TokenLedger.delta), 0)).where(TokenLedger.account_id == account_id))
    return int(total or 0)


async def _insert_once(s: AsyncSession, account_id: str, kind: str, period: str, delta: int) -> None:
    """Insert a grant/refill row unless this account already has one for ``period`` (another
    request may be settling the same period right now: the unique key decides, quietly)."""
    values: dict[str, Any] = {"id": new_id(), "account_id": account_id, "kind": kind, "delta": delta,
                              "period": period, "model_id": "", "at": utcnow()}
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await s.execute(insert(TokenLedger).values(**values).on_conflict_do_nothing(
        index_elements=[TokenLedger.account_id, TokenLedger.period]))
