"""The model catalog as JSON (the Cast page and, later, the in-scene AI wing) and stars."""

from __future__ import annotations

from typing import Annotated, Literal

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
View = Annotated[Literal["full", "compact"], Query(description=(
    "full: one object per model. compact: `columns` once and one array per model (rows in list order, "
    "`starred` ids per section, `q`/`offset`/`limit` ignored), what the Cast page reads"))]


@api.get("", summary="Every model you can use, by provider section; starred models first",
         response_class=StreamingResponse)
async def get_catalog(
    res: ResourcesDep, account: CurrentAccount, q: str = Query_, view: View = "full",
    skip: Annotated[str, Query(max_length=4000, description=(
        "compact only: comma-separated section ids to leave out (rows: null), e.g. collapsed ones; "
        "fetch them from /api/catalog/sections/{section}?view=compact"))] = "",
    only: Annotated[str | None, Query(max_length=4000, description=(
        "compact only: comma-separated section ids whose rows to send, and no other's (starred or not): "
        "the rest of a page that has its first screenful"))] = None,
    first: Annotated[int | None, Query(ge=0, le=1000, description=(
        "compact only: rows for the first N provider sections only (the rest rows: null), or fewer "
        "once those hold 60 models: a page's first screenful"))] = None,
) -> Response:
    if view == "compact":
        return Response(await catalog.compact_json(res, account.id, _ids(skip), first,
                                                    None if only is None else _ids(only)),
                        media_type="application/json")
    # Pre-encoded rows, streamed a section at a time: never one document of every list in memory.
    return StreamingResponse(await catalog.catalog_stream(res, account.id, q), media_type="application/json")


def _ids(text: str) -> frozenset[str]:
    return frozenset(part for part in text.split(",") if part)


@api.get("/sections", summary="The sections alone: details, model counts and starred models, no model lists")
async def get_sections(res: ResourcesDep, account: CurrentAccount, q: str = Query_) -> Response:
    return Response(await catalog.section_index(res, account.id, q), media_type="application/json")


@api.get("/sections/{section}", summary="One section's models, a page at a time (starred first), or all of them compact")
async def get_section(res: ResourcesDep, account: CurrentAccount, section: Annotated[str, Path(max_length=40)],
                      q: str = Query_, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                      limit: Annotated[int, Query(ge=1, le=5000)] = 1000, view: View = "full") -> Response:
    if view == "compact":
        return Response(await catalog.section_json(res, account.id, section), media_type="application/json")
    return Response(await catalog.section_page(res, account.id, section, q, offset, limit), media_type="application/json")


@api.post("/stars", status_code=204, summary="Star or unstar a model")
async def star(res: ResourcesDep, account: CurrentAccount, body: StarIn) -> Response:
    await catalog.set_star(res.db, account.id, body.section, body.model_id, body.starred)
    return Response(status_code=204)
