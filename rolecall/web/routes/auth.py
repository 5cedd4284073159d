"""Sign up, log in, log out: HTML forms and the JSON API share one service."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from rolecall.services import accounts, jobs
from rolecall.services.accounts import AccountView
from rolecall.services.errors import ServiceError
from rolecall.web.deps import SESSION_COOKIE, CurrentAccount, OptionalAccount, ResourcesDep, render
from rolecall.web.security import cookie_is_secure, csrf_token

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["accounts"])


class NameAndPassword(BaseModel):
    """What sign-up and log-in take (provider keys are `provider_configs.KeyInput`)."""

    name: str = Field(max_length=100)
    password: str = Field(max_length=2000)


class AccountOut(BaseModel):
    id: str
    name: str
    created_at: str

    @classmethod
    def of(cls, account: AccountView) -> AccountOut:
        return cls(id=account.id, name=account.name, created_at=account.created_at.isoformat())


class CsrfOut(BaseModel):
    csrf_token: str
    header: str = "X-CSRF-Token"


def _safe_next(target: str | None) -> str:
    # Only local paths: "//evil.example" and "https://..." would be open redirects.
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/scenes"


async def _begin(request: Request, response: Response, res: ResourcesDep, account: AccountView) -> None:
    token = await accounts.start_session(res.db, account.id, res.settings.session_days)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=res.settings.session_days * 86400, httponly=True, samesite="lax",
        secure=cookie_is_secure(res.settings.cookie_secure, request.url.scheme), path="/",
    )
    await jobs.submit_hourly(res, "purge_expired_sessions")


async def _log_in(request: Request, res: ResourcesDep, name: str, password: str) -> AccountView:
    return await accounts.log_in(
        res.db, res.cache, name, password, client=request.client.host if request.client else "unknown",
        attempts=res.settings.login_attempts, window=res.settings.login_window_seconds,
    )


async def _end(request: Request, response: Response, res: ResourcesDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await accounts.end_session(res.db, res.cache, token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    # Clears anything a page kept in browser storage (e.g. a remembered vault key).
    response.headers["Clear-Site-Data"] = '"storage"'


# --- HTML pages ---------------------------------------------------------------------------

@pages.get("/signup")
async def signup_page(request: Request, account: OptionalAccount, next: str | None = None) -> Response:
    if account:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "auth/signup.html", next=_safe_next(next))


NameField = Annotated[str, Form(max_length=100)]
PasswordField = Annotated[str, Form(max_length=2000)]
NextField = Annotated[str | None, Form()]


async def _form_flow(request: Request, res: ResourcesDep, template: str, attempt: Awaitable[AccountView],
                     name: str, next: str | None) -> Response:
    """Run a sign-up or log-in attempt: on success start the session, else show the form again."""
    try:
        account = await attempt
    except ServiceError as exc:
        return render(request, template, status_code=exc.status, error=exc.message, field=exc.field,
                      name=name, next=_safe_next(next))
    response = RedirectResponse(_safe_next(next), status_code=303)
    await _begin(request, response, res, account)
    return response


@pages.post("/signup")
async def signup_form(request: Request, res: ResourcesDep, name: NameField, password: PasswordField,
                      next: NextField = None) -> Response:
    return await _form_flow(request, res, "auth/signup.html", accounts.sign_up(res.db, name, password), name, next)


@pages.get("/login")
async def login_page(request: Request, account: OptionalAccount, next: str | None = None) -> Response:
    if account:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "auth/login.html", next=_safe_next(next))


@pages.post("/login")
async def login_form(request: Request, res: ResourcesDep, name: NameField, password: PasswordField,
                     next: NextField = None) -> Response:
    return await _form_flow(request, res, "auth/login.html", _log_in(request, res, name, password), name, next)


@pages.post("/logout")
async def logout_form(request: Request, res: ResourcesDep) -> Response:
    response = RedirectResponse("/login", status_code=303)
    await _end(request, response, res)
    return response


# --- JSON API -----------------------------------------------------------------------------

@api.get("/csrf", response_model=CsrfOut, summary="Get the CSRF token for state-changing API calls")
async def get_csrf(request: Request) -> CsrfOut:
    return CsrfOut(csrf_token=csrf_token(request))


@api.post("/auth/signup", status_code=201, response_model=AccountOut, summary="Create an account and log in")
async def api_signup(request: Request, response: Response, res: ResourcesDep, body: NameAndPassword) -> AccountOut:
    account = await accounts.sign_up(res.db, body.name, body.password)
    await _begin(request, response, res, account)
    return AccountOut.of(account)


@api.post("/auth/login", response_model=AccountOut, summary="Log in")
async def api_login(request: Request, response: Response, res: ResourcesDep, body: NameAndPassword) -> AccountOut:
    account = await _log_in(request, res, body.name, body.password)
    await _begin(request, response, res, account)
    return AccountOut.of(account)


@api.post("/auth/logout", status_code=204, summary="Log out this browser")
async def api_logout(request: Request, res: ResourcesDep) -> Response:
    response = Response(status_code=204)
    await _end(request, response, res)
    return response


@api.get("/me", response_model=AccountOut, summary="The signed-in account")
async def me(account: CurrentAccount) -> AccountOut:
    return AccountOut.of(account)
