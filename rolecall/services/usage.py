"""The usage log: one row per generation attempt, written off the streaming hot path.

`record(res, attempt)` only appends to an in-process buffer (no await, no I/O); a writer task
inserts the buffer in batches every ``FLUSH_SECONDS`` or as soon as ``BATCH`` rows wait, one
INSERT per batch. On shutdown `UsageLog.stop()` writes what is left: the serving process first
lets (or makes) its streams end, each stream records its attempt as interrupted or cancelled in
its ``finally``, and only then the lifespan closes the log, so a server stopped mid-stream keeps
the row. A process killed outright (SIGKILL, power loss) loses at most the rows of the last
``FLUSH_SECONDS``; a failed write keeps the rows for the next try (up to ``MAX_PENDING``).

Rows are per account: every query filters on ``account_id``, another account's row is a 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from rolecall.providers import prices
from rolecall.services.errors import Invalid, NotFound
from rolecall.services.resources import Resources
from rolecall.storage.db import Sessions
from rolecall.storage.generation_tables import OUTCOMES as OUTCOMES
from rolecall.storage.generation_tables import Preset, UsageEvent
from rolecall.storage.scene_tables import Scene
from rolecall.storage.tables import new_id, utcnow

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.5
BATCH = 200
MAX_PENDING = 50_000
PREMIERE_LABEL = "Premiere Theater"


@dataclass
class Attempt:
    """One generation attempt, as the gateway saw it. ``id`` is known before the row is written,
    so a Premiere debit can point at it."""

    account_id: str
    section: str  # a provider config id or "premiere"
    config_label: str
    provider: str
    model: str
    outcome: str  # ok | skipped | error | interrupted | cancelled
    error_kind: str = ""
    reason: str = ""
    scene_id: str | None = None
    preset_id: str | None = None
    slot_position: int | None = None
    latency_ms: int | None = None
    ttft_ms: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    premiere_tokens: int = 0
    cost_usd: float | None = None
    # A price the caller knows (provider list, operator settings): USD per million in, out.
    known_price: tuple[float, float] | None = None
    id: str = field(default_factory=new_id)
    at: datetime = field(default_factory=utcnow)

    def row(self) -> dict[str, Any]:
        # Every field is a scalar, a tuple or a datetime: `asdict`'s deep copy bought nothing.
        values = dict(vars(self))
        del values["known_price"]
        if values["cost_usd"] is None:
            values["cost_usd"] = prices.estimate_cost(self.model, self.input_tokens, self.output_tokens, self.known_price)
        # Reasons are our own texts or `ProviderError` messages, which the providers layer has
        # already cleared of the key and secret header values.
        values["reason"] = self.reason[:2000]
        return values


class Clock:
    """Latency and time to first token of one attempt, in whole milliseconds (monotonic)."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._first: float | None = None

    def first_token(self) -> None:
        if self._first is None:
            self._first = time.monotonic()

    @property
    def latency_ms(self) -> int:
        return round((time.monotonic() - self._start) * 1000)

    @property
    def ttft_ms(self) -> int | None:
        return None if self._first is None else round((self._first - self._start) * 1000)


@dataclass(frozen=True)
class UsageRow:
    id: str
    at: datetime
    scene_id: str | None
    preset_id: str | None
    slot_position: int | None
    section: str
    config_label: str
    provider: str
    model: str
    outcome: str
    error_kind: str
    reason: str
    latency_ms: int | None
    ttft_ms: int | None
    input_tokens: int | None
    output_tokens: int | None
    premiere_tokens: int
    cost_usd: float | None


@dataclass(frozen=True)
class Filters:
    since: date | None = None  # inclusive, UTC days
    until: date | None = None  # inclusive
    section: str | None = None  # a config id or "premiere"
    outcome: str | None = None

    def check(self) -> Filters:
        if self.outcome and self.outcome not in OUTCOMES:
            raise Invalid(f"Outcome must be one of: {', '.join(OUTCOMES)}.", field="outcome")
        if self.since and self.until and self.since > self.until:
            raise Invalid("The start date is after the end date.", field="since")
        return self


@dataclass(frozen=True)
class Page:
    rows: list[UsageRow]
    next_cursor: str | None


class UsageLog:
    """The buffer and its writer task, one per process (held by `Resources.usage`)."""

    def __init__(self, db: Sessions) -> None:
        self._db = db
        # Attempts as given: turning them into rows (cost estimate) is the writer's work, not the stream's.
        self._pending: list[Attempt] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._lock = asyncio.Lock()

    def record(self, attempt: Attempt) -> None:
        """Queue one attempt's row; returns at once (the hot path never waits on the database)."""
        if len(self._pending) >= MAX_PENDING:
            log.warning("usage log: %d rows waiting, dropping the oldest", len(self._pending))
            del self._pending[: len(self._pending) - MAX_PENDING + 1]
        self._pending.append(attempt)
        if len(self._pending) >= BATCH:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="usage-log-writer")

    async def stop(self) -> None:
        """Stop the writer and write every row still waiting.

        The writer is asked to finish rather than cancelled: a batch being inserted must not be
        cut off halfway (it would be lost, or written twice when retried).
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> int:
        """Write the waiting rows now; the number written (0 when the write failed: kept for later)."""
        async with self._lock:
            rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                async with self._db.begin() as s:
                    await s.execute(insert(UsageEvent), [attempt.row() for attempt in rows])
            except Exception as exc:  # the database may be briefly away: keep the rows, try again
                log.warning("usage log: could not write %d rows (%s); will retry", len(rows), type(exc).__name__)
                self._pending = rows + self._pending
                return 0
            return len(rows)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            self._wake.clear()
            await self.flush()


def record(res: Resources, attempt: Attempt) -> None:
    """Log one attempt (buffered; see the module docstring for when it reaches the database)."""
    if res.usage is None:  # a process built without the writer (a one-off script): start one
        res.usage = UsageLog(res.db)
        res.usage.start()
    res.usage.record(attempt)


# --- reading ------------------------------------------------------------------------------------

def _where(account_id: str, filters: Filters) -> list[Any]:
    clauses: list[Any] = [UsageEvent.account_id == account_id]
    if filters.since:
        clauses.append(UsageEvent.at >= _day_start(filters.since))
    if filters.until:
        clauses.append(UsageEvent.at < _day_start(filters.until + timedelta(days=1)))
    if filters.section:
        clauses.append(UsageEvent.section == filters.section)
    if filters.outcome:
        clauses.append(UsageEvent.outcome == filters.outcome)
    return clauses


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _view(row: UsageEvent) -> UsageRow:
    return UsageRow(**{name: getattr(row, name) for name in UsageRow.__dataclass_fields__})


async def page(db: Sessions, account_id: str, filters: Filters, *, limit: int = 50, cursor: str | None = None) -> Page:
    """Newest first, ``limit`` rows after ``cursor`` (the ``next_cursor`` of the previous page)."""
    clauses = _where(account_id, filters.check())
    if cursor:
        at, row_id = _parse_cursor(cursor)
        clauses.append((UsageEvent.at < at) | ((UsageEvent.at == at) & (UsageEvent.id < row_id)))
    async with db() as s:
        rows = list(await s.scalars(select(UsageEvent).where(*clauses)
                                    .order_by(UsageEvent.at.desc(), UsageEvent.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = f"{rows[-1].at.isoformat()}|{rows[-1].id}" if more and rows else None
    return Page([_view(r) for r in rows], next_cursor)


def _parse_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, row_id = cursor.split("|", 1)
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise Invalid("That page cursor is not one we gave out.", field="cursor") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), row_id


async def get(db: Sessions, account_id: str, usage_id: str) -> UsageRow:
    async with db() as s:
        row = await s.scalar(select(UsageEvent).where(UsageEvent.id == usage_id, UsageEvent.account_id == account_id))
    if row is None:
        raise NotFound("No such usage record.")
    return _view(row)


async def names_of(db: Sessions, account_id: str, rows: Iterable[UsageRow]) -> tuple[dict[str, str], dict[str, str]]:
    """(scene id -> title, preset id -> name) for the rows' scenes and presets that still exist."""
    listed = list(rows)
    scene_ids = {r.scene_id for r in listed if r.scene_id}
    preset_ids = {r.preset_id for r in listed if r.preset_id}
    async with db() as s:
        scenes = dict((await s.execute(select(Scene.id, Scene.title).where(
            Scene.account_id == account_id, Scene.id.in_(scene_ids)))).all()) if scene_ids else {}
        named = dict((await s.execute(select(Preset.id, Preset.name).where(
            Preset.account_id == account_id, Preset.id.in_(preset_ids)))).all()) if preset_ids else {}
    return scenes, named


async def all_rows(db: Sessions, account_id: str, filters: Filters, *, limit: int = 100_000) -> list[UsageRow]:
    """Every matching row, newest first (for CSV export and the chart)."""
    async with db() as s:
        rows = await s.scalars(select(UsageEvent).where(*_where(account_id, filters.check()))
                               .order_by(UsageEvent.at.desc(), UsageEvent.id.desc()).limit(limit))
        return [_view(r) for r in rows]


CSV_COLUMNS = tuple(UsageRow.__dataclass_fields__)


def to_csv(rows: Iterable[UsageRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_csv_cell(getattr(row, name)) for name in CSV_COLUMNS])
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # a spreadsheet must not run a provider's error text as a formula
    return "" if value is None else value


@dataclass(frozen=True)
class DailyTokens:
    days: list[date]
    # (section, label) -> tokens per day, in ``days`` order
    series: dict[tuple[str, str], list[int]]


def daily_tokens(rows: Iterable[UsageRow], since: date, until: date) -> DailyTokens:
    """Tokens (in + out) per UTC day per config, for the chart."""
    days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    index = {day: n for n, day in enumerate(days)}
    series: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        slot = index.get(row.at.astimezone(UTC).date())
        tokens = (row.input_tokens or 0) + (row.output_tokens or 0)
        if slot is None or not tokens:
            continue
        series.setdefault((row.section, row.config_label), [0] * len(days))[slot] += tokens
    return DailyTokens(days, series)
