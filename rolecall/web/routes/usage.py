"""The usage log over JSON (paged) and CSV, the Usage page with its chart, and the token balance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel

from rolecall.providers import all_providers
from rolecall.services import provider_configs, token_balance, usage, usage_chart
from rolecall.services.premiere import LABEL as PREMIERE_LABEL
from rolecall.services.premiere import SECTION as PREMIERE
from rolecall.services.usage import Filters, UsageRow
from rolecall.web.deps import CurrentAccount, ResourcesDep, render
from rolecall.web.routes.settings import TABS

api = APIRouter(prefix="/api", tags=["usage"])
pages = APIRouter(include_in_schema=False)
CHART_DAYS = 30
PROVIDER_NAMES = {p.id: p.name for p in all_providers()}


def filters(
    since: Annotated[date | None, Query(description="First UTC day, inclusive (YYYY-MM-DD)")] = None,
    until: Annotated[date | None, Query(description="Last UTC day, inclusive")] = None,
    section: Annotated[str | None, Query(max_length=40, description='A provider config id, or "premiere"')] = None,
    outcome: Annotated[str | None, Query(max_length=12, description="ok, skipped, error, interrupted or cancelled")] = None,
) -> Filters:
    return Filters(since=since, until=until, section=section or None, outcome=outcome or None).check()


FiltersDep = Annotated[Filters, Depends(filters)]


class UsageOut(BaseModel):
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

    @classmethod
    def of(cls, row: UsageRow) -> UsageOut:
        return cls(**row.__dict__)


class UsagePage(BaseModel):
    rows: list[UsageOut]
    next_cursor: str | None


class DebitOut(BaseModel):
    at: datetime
    tokens: int
    model_id: str


class BalanceOut(BaseModel):
    balance: int
    refill_tokens: int
    refill_every: str
    next_refill_at: datetime | None
    used_today: int
    recent: list[DebitOut]


@api.get("/usage", summary="Your generation attempts, newest first, a page at a time")
async def list_usage(res: ResourcesDep, account: CurrentAccount, chosen: FiltersDep,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50,
                     cursor: Annotated[str | None, Query(max_length=80)] = None) -> UsagePage:
    found = await usage.page(res.db, account.id, chosen, limit=limit, cursor=cursor)
    return UsagePage(rows=[UsageOut.of(r) for r in found.rows], next_cursor=found.next_cursor)


@api.get("/usage.csv", summary="The usage log as CSV (same filters)", response_class=Response)
async def usage_csv(res: ResourcesDep, account: CurrentAccount, chosen: FiltersDep) -> Response:
    text = usage.to_csv(await usage.all_rows(res.db, account.id, chosen))
    name = f"rolecall-usage-{datetime.now(UTC):%Y%m%d}.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@api.get("/usage/{usage_id}", summary="One attempt")
async def get_usage(res: ResourcesDep, account: CurrentAccount, usage_id: str) -> UsageOut:
    return UsageOut.of(await usage.get(res.db, account.id, usage_id))


@api.get("/token-balance", summary="Your Premiere Theater token balance, recent usage and next refill")
async def get_balance(res: ResourcesDep, account: CurrentAccount) -> BalanceOut:
    view = await token_balance.view(res.db, res.settings.premiere, account.id)
    return BalanceOut(balance=view.balance, refill_tokens=view.refill_tokens, refill_every=view.refill_every,
                      next_refill_at=view.next_refill_at, used_today=view.used_today,
                      recent=[DebitOut(at=d.at, tokens=d.tokens, model_id=d.model_id) for d in view.recent])


@pages.get("/usage")
async def usage_page(request: Request, res: ResourcesDep, account: CurrentAccount, chosen: FiltersDep,
                     cursor: Annotated[str | None, Query(max_length=80)] = None) -> Response:
    found = await usage.page(res.db, account.id, chosen, limit=50, cursor=cursor)
    until = chosen.until or datetime.now(UTC).date()
    since = chosen.since or until - timedelta(days=CHART_DAYS - 1)
    window = Filters(since=since, until=until, section=chosen.section, outcome=chosen.outcome)
    daily = usage.daily_tokens(await usage.all_rows(res.db, account.id, window), since, until)
    scene_titles, preset_names = await usage.names_of(res.db, account.id, found.rows)
    configs = [(c.id, c.label) for c in await provider_configs.list_configs(res.db, account.id)]
    given = {"since": chosen.since, "until": chosen.until, "section": chosen.section, "outcome": chosen.outcome}
    query = urlencode({k: v for k, v in given.items() if v is not None})
    return render(request, "usage/index.html", account=account, tab="usage", tabs=TABS, nav="settings",
                  rows=found.rows, scene_titles=scene_titles, preset_names=preset_names,
                  provider_names=PROVIDER_NAMES, premiere=PREMIERE,
                  next_cursor=found.next_cursor, filters=chosen, chart=usage_chart.render(daily),
                  legend=usage_chart.legend(daily), since=since, until=until, outcomes=usage.OUTCOMES,
                  sections=[(PREMIERE, PREMIERE_LABEL), *configs], filter_query=query)
