"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rolecall.services import health
from rolecall.web.deps import ResourcesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@router.get("/readyz", summary="The database (and Redis, when configured) answer")
async def readyz(res: ResourcesDep) -> JSONResponse:
    checks = await health.readiness(res.engine, res.cache)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ok": ready, "checks": checks}, status_code=200 if ready else 503)
