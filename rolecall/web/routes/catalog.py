"""The model catalog as JSON (the Cast page and, later, the in-scene AI wing) and stars."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from rolecall.services import catalog
from rolecall.web.deps import CurrentAccount, ResourcesDep

api = APIRouter(prefix="/api/catalog", tags=["model catalog"])


class StarIn(BaseModel):
    section: str = Field(max_length=40, description='A provider config id, or "premiere"')
    model_id: str = Field(max_length=256)
    starred: bool = True


@api.get("", summary="Every model you can use, by provider section; starred models first")
async def get_catalog(res: ResourcesDep, account: CurrentAccount,
                      q: str = Query("", max_length=200, description="Words that must all appear in the name or id")) -> Response:
    # The service hands back encoded JSON: FastAPI's generic encoder would walk 10,000 rows again.
    return Response(await catalog.catalog_json(res, account.id, q), media_type="application/json")


@api.post("/stars", status_code=204, summary="Star or unstar a model")
async def star(res: ResourcesDep, account: CurrentAccount, body: StarIn) -> Response:
    await catalog.set_star(res.db, account.id, body.section, body.model_id, body.starred)
    return Response(status_code=204)
