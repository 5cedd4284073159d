"""Before the server takes requests: what the Cast page's first request needs, merged and encoded.

Without it the first visit after a start merges its lists with the curated facts (~6 ms per 250
models) and encodes them on the page's critical path (`catalog.compact_json`).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, bindparam, func, select

from rolecall.services.catalog import LISTED, carried, config_columns, config_section, premiere_section, stars_of
from rolecall.services.resources import Resources
from rolecall.storage.tables import LoginSession, utcnow

FIRST_SCREEN = 3  # provider sections the Cast page's first request carries (`first=3`, static/js/catalog_view.js)
ACCOUNTS = 16
BUDGET = 0.5  # seconds added to a start at most

_sessions = cast(Table, LoginSession.__table__).c
_RECENT_ACCOUNTS = (select(_sessions.account_id).where(_sessions.expires_at > bindparam("now_"))
                    .group_by(_sessions.account_id).order_by(func.max(_sessions.created_at).desc())
                    .limit(bindparam("limit_")))


async def warm_first_screens(res: Resources, *, accounts: int = ACCOUNTS, budget: float = BUDGET) -> int:
    """Merge and encode the first screen's lists for the accounts that logged in last (with a
    live session); returns how many lists. Collapsed sections are the browser's to know: the first
    ones in order are taken, as for a page with every section open. Nothing is fetched or submitted."""
    started = time.monotonic()
    max_age = timedelta(hours=res.settings.model_list_max_age_hours)
    warmed = 0
    premiere = premiere_section(res.settings).merged
    _encode = premiere.compact if premiere else ""
    async with res.db() as s:
        for account_id in list(await s.scalars(_RECENT_ACCOUNTS, {"now_": utcnow(), "limit_": accounts})):
            rows = list(await s.execute(LISTED.where(config_columns.account_id == account_id)))
            stars = await stars_of(s, account_id)
            for r, include in zip(rows, carried(rows, stars, frozenset(), FIRST_SCREEN, None), strict=True):
                if time.monotonic() - started > budget:
                    return warmed
                merged = (await config_section(s, r, max_age)).merged if include else None
                if merged is not None:
                    _encode = merged.compact  # encoded on first use: now, not on the page's request
                    warmed += 1
    return warmed
