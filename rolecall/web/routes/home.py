"""The front page, the API reference page and the BIP39 word list asset."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from rolecall.web.deps import OptionalAccount, render

pages = APIRouter(include_in_schema=False)


@pages.get("/")
async def home(request: Request, account: OptionalAccount) -> Response:
    if account:
        return RedirectResponse("/scenes", status_code=303)
    return render(request, "home.html")


@pages.get("/api/docs")
async def api_docs(request: Request, account: OptionalAccount) -> Response:
    """A readable page rendered from our own OpenAPI document (Swagger UI would need a CDN)."""
    schema = request.app.openapi()
    return render(request, "api_docs.html", account=account, schema=schema)
