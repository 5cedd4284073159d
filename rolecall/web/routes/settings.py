"""The Settings page and its tabs (Account, API Keys with encryption and BYOK providers), and the Cast page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from rolecall.services import premiere, token_balance, vault
from rolecall.web.deps import CurrentAccount, ResourcesDep, render

pages = APIRouter(include_in_schema=False)

TABS = (("account", "Account"), ("api-keys", "API Keys"), ("access-tokens", "Access Tokens"), ("cast", "Cast"),
        ("presets", "Presets"), ("usage", "Usage"))
# Tabs that are pages of their own.
TAB_PAGES = {"cast": "/models", "presets": "/presets", "usage": "/usage"}


@pages.get("/settings")
async def settings_page(request: Request, res: ResourcesDep, account: CurrentAccount, tab: str = "account") -> Response:
    if tab in TAB_PAGES:  # e.g. the Cast tab is the model library at /models
        return RedirectResponse(TAB_PAGES[tab], status_code=303)
    if tab not in dict(TABS):
        tab = "account"
    context: dict[str, Any] = {}
    if tab == "api-keys":
        context["vault_active"] = await vault.get_record(res.db, account.id) is not None
        if premiere.offered(res.settings):
            context["balance"] = await token_balance.view(res.db, res.settings.premiere, account.id)
    elif tab == "access-tokens":
        context["base_url"] = str(request.base_url).rstrip("/") + "/v1"
    return render(request, f"settings/{tab.replace('-', '_')}.html", account=account, tab=tab, tabs=TABS,
                  nav="settings", **context)


@pages.get("/models")
async def models_page(request: Request, account: CurrentAccount) -> Response:
    return render(request, "models/index.html", account=account, tab="cast", tabs=TABS, nav="cast")
