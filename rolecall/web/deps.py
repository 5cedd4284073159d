"""Request dependencies: the process's resources, the signed-in account, template rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from rolecall import __version__
from rolecall.services import accounts
from rolecall.services.accounts import AccountView
from rolecall.services.errors import Unauthorized
from rolecall.services.resources import Resources
from rolecall.web.security import csrf_token

SESSION_COOKIE = "rc_session"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.globals["version"] = __version__


def compile_templates() -> None:
    """Compile every page template once (~5 ms each): otherwise the first visitor of each page
    after a start waits for it."""
    for name in TEMPLATES.env.list_templates(extensions=["html"]):
        TEMPLATES.env.get_template(name)


async def get_resources(request: Request) -> Resources:
    # async: a plain `def` dependency is run in a worker thread, a thread hop on every request.
    res: Resources = request.app.state.res
    return res


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def optional_account(request: Request, res: ResourcesDep) -> AccountView | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await accounts.session_account(res.reads, res.cache, token)


async def current_account(account: Annotated[AccountView | None, Depends(optional_account)]) -> AccountView:
    if account is None:
        raise Unauthorized("Log in to continue.")
    return account


OptionalAccount = Annotated[AccountView | None, Depends(optional_account)]
CurrentAccount = Annotated[AccountView, Depends(current_account)]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("account", None)
    context["csrf_token"] = csrf_token(request)
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
