"""The model catalog as JSON (the Cast page and, later, the in-scene AI wing) and stars."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rolecall.services import catalog
from rolecall.web.deps import CurrentAccount, ResourcesDep

api = APIRouter(prefix="/api/catalog", tags=["model catalog"])


class StarIn(BaseModel):
    section: str = Field(max_length=40, description='A provider config id, or "premiere"')
    model_id: str = Field(max_length=256)
    starred: bool = True


Query_ = Query("", max_length=200, description="Words that must all appear in the name or id")


@api.get("", summary="Every model you can use, by provider section; starred models first",
         response_class=StreamingResponse)
async def get_catalog(res: ResourcesDep, account: CurrentAccount, q: str = Query_) -> Response:
    # Pre-encoded rows, streamed a section at a time: never one document of every list in memory.
    return StreamingResponse(await catalog.catalog_stream(res, account.id, q), media_type="application/json")


@api.get("/sections", summary="The sections alone: details, model counts and starred models, no model lists")
async def get_sections(res: ResourcesDep, account: CurrentAccount, q: str = Query_) -> Response:
    return Response(await catalog.section_index(res, account.id, q), media_type="application/json")


@api.get("/sections/{section}", summary="One section's models, a page at a time (starred first)")
async def get_section(res: ResourcesDep, account: CurrentAccount, section: Annotated[str, Path(max_length=40)],
                      q: str = Query_, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                      limit: Annotated[int, Query(ge=1, le=5000)] = 1000) -> Response:
    return Response(await catalog.section_page(res, account.id, section, q, offset, limit), media_type="application/json")


@api.post("/stars", status_code=204, summary="Star or unstar a model")
async def star(res: ResourcesDep, account: CurrentAccount, body: StarIn) -> Response:
    await catalog.set_star(res.db, account.id, body.section, body.model_id, body.starred)
    return Response(status_code=204)
