"""The routes a person waits on, served as plain Starlette routes in front of their FastAPI twins.

FastAPI documents a route from its endpoint's signature and, per request, solves its dependencies
and validates its body. On this kind of 2-core machine that costs ~70 µs a request back to back
and ~350 µs after a few milliseconds of idleness (every request, for one person), over a plain
Starlette route in the same app (docs/decisions.md, "Lean routes"). The two streaming routes (a
scene turn, ``/v1/chat/completions``) start the wait for the first token, so each also has a lean
handler: it makes the same checks as the dependencies (the CSRF check, the signed-in account or
the access token, the body's model), calls the same endpoint function, and is placed first in the
app's routes, so it serves every request. The FastAPI route stays for the OpenAPI document;
`tests/web/test_lean_routes.py` holds the two to the same path and method.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rolecall.services.accounts import AccountView
from rolecall.services.resources import Resources
from rolecall.web.deps import current_account, optional_account

Model = TypeVar("Model", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]


def route(path: str, handler: Handler, method: str) -> Route:
    return Route(path, handler, methods=[method], include_in_schema=False)


def install(app: FastAPI, routes: Sequence[Route]) -> None:
    """Put ``routes`` ahead of every other route of ``app`` (the first route that matches serves)."""
    app.router.routes[:0] = routes


def resources(request: Request) -> Resources:
    res: Resources = request.app.state.res
    return res


async def signed_in(request: Request, res: Resources) -> AccountView:
    """The session's account, or `Unauthorized` (as the `CurrentAccount` dependency)."""
    return await current_account(await optional_account(request, res))


async def body(model: type[Model], request: Request) -> Model:
    """The request's JSON body as ``model``, or the 422 FastAPI gives for it (errors located in "body")."""
    raw = await request.body()
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    data: object = raw  # a body that is not JSON fails validation, as in FastAPI
    if _is_json(request.headers.get("content-type", "")):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RequestValidationError([{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                                           "input": {}, "ctx": {"error": exc.msg}}], body=exc.doc) from None
        except ValueError:  # not UTF-8, say
            raise HTTPException(400, "There was an error parsing the body") from None
    try:
        return model.model_validate(data, from_attributes=True)  # as FastAPI validates a body
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=data) from None


def _is_json(content_type: str) -> bool:
    kind = content_type.partition(";")[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))
