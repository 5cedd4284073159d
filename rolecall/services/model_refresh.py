"""Model lists kept fresh: a list older than ``model_list_max_age_hours`` is fetched again by a
background job (Server-Accessible configs only: the server cannot open an E2E key); a refresh that
fails keeps the last good list and says why (docs/decisions.md, "Model catalog")."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import defer

from rolecall.providers import ProviderError, explain, protocol_for
from rolecall.services import connections, jobs
from rolecall.services.errors import NotFound
from rolecall.services.key_checks import model_rows
from rolecall.services.resources import Resources
from rolecall.storage.tables import ProviderConfig, utcnow

log = logging.getLogger(__name__)


async def refresh_stale(res: Resources, rows: Sequence[ProviderConfig | Row[Any]]) -> None:
    for row in rows:
        # One refresh per config at a time, across replicas.
        if await res.cache.incr(f"refresh-models:{row.id}", ttl=300) == 1:
            await jobs.submit(res, "refresh_models", {"config_id": row.id}, account_id=row.account_id)


async def refresh(res: Resources, config_id: str) -> dict[str, Any]:
    """Fetch a config's model list again; on failure keep the old list and say why.

    Runs in the background, so only with the key the server holds: an End-to-End config raises
    `connections.KeyUnavailable` before anything is sent upstream.
    """
    async with res.db() as s:
        row = await s.get(ProviderConfig, config_id, options=[defer(ProviderConfig.models)])
    if row is None:
        raise NotFound("No such provider config.")
    conn = connections.open_row(res.keyring, row, connections.ServerKey()).connection
    update: dict[str, Any]
    try:
        async with res.limits.outbound(row.account_id, row.dest_origin, deadline=res.limits.rules.refresh_deadline):
            models = await protocol_for(conn.provider.protocol).list_models(conn, res.http)
        update = {"models": model_rows(models), "models_fetched_at": utcnow(), "models_error": ""}
    except ProviderError as exc:
        update = {"models_error": explain(exc)}
    except Exception as exc:  # a refresh must never lose the list; say what happened
        log.warning("model list refresh of %s failed: %s", config_id, type(exc).__name__)
        update = {"models_error": "The model list could not be refreshed. Click Test Key to try again."}
    async with res.db.begin() as s:
        current = await s.get(ProviderConfig, config_id)
        if current is not None:
            for name, value in update.items():
                setattr(current, name, value)
    return {"models": len(update["models"])} if "models" in update else {"error": update["models_error"]}
