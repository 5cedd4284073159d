"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions``.

Authorized by a personal access token (``Authorization: Bearer rc_pat_…``) and nothing else: the
session cookie is never read here, and a token is never read anywhere else. Errors take OpenAI's
shape (`web.errors` routes every error under /v1 through `openai_wire.wire_error`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from rolecall.services import access_tokens, openai_api
from rolecall.services.access_tokens import Principal
from rolecall.web import lean, openai_wire
from rolecall.web.deps import ResourcesDep
from rolecall.web.sse import EventStream, first_text_out

api = APIRouter(prefix="/v1", tags=["OpenAI-compatible API"])


async def token_principal(request: Request, res: ResourcesDep) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    principal = await access_tokens.authenticate(res.db, res.cache, token.strip() if scheme.lower() == "bearer" else None)
    await res.limits.rate("api", principal.token_id)
    return principal


TokenPrincipal = Annotated[Principal, Depends(token_principal)]


@api.get("/models", summary="The models your access token can use: `<config label>/<model id>`")
async def list_models(res: ResourcesDep, principal: TokenPrincipal) -> Response:
    principal.require("models")
    return JSONResponse(openai_wire.models_body(await openai_api.list_models(res, principal.account_id)))


@api.get("/models/{model:path}", summary="One model, if your access token can use it")
async def get_model(res: ResourcesDep, principal: TokenPrincipal, model: str) -> Response:
    principal.require("models")
    for entry in await openai_api.list_models(res, principal.account_id):
        if entry.id == model:
            return JSONResponse(openai_wire.models_body([entry])["data"][0])
    raise openai_api.not_found(model)


@api.post("/chat/completions", summary="A chat completion through one of your configs, streamed or whole")
async def chat_completions(request: Request, res: ResourcesDep, principal: TokenPrincipal) -> Response:
    principal.require("chat")
    parsed = openai_wire.parse_completion(await request.body())
    route = await openai_api.resolve(res, principal.account_id, parsed.model)
    if not parsed.stream:
        target, result = await openai_api.complete(res, principal.account_id, route, parsed.request, parsed.samplers)
        return JSONResponse(openai_wire.completion_body(target.name, result))
    stream = await openai_api.start_stream(res, principal.account_id, route, parsed.request, parsed.samplers)
    encoder = openai_wire.ChunkEncoder(stream.target.name, parsed.include_usage)
    # Not Starlette's StreamingResponse: on this server's ASGI version it sends the head from a task
    # of its own, a turn of the event loop (~0.1 ms of the first token's time) after this returns.
    return EventStream(_frames(stream, encoder, parsed.include_usage))


async def chat_completions_lean(request: Request) -> Response:
    """`chat_completions` as `rolecall serve` runs it: its dependency made directly (`web/lean.py`)."""
    res = lean.resources(request)
    return await chat_completions(request, res, await token_principal(request, res))


LEAN = [lean.route(api.prefix + "/chat/completions", chat_completions_lean, "POST")]


async def _frames(
    stream: openai_api.Stream, encoder: openai_wire.ChunkEncoder, include_usage: bool,
) -> AsyncGenerator[bytes, None]:
    """One SSE frame per upstream text piece; the role chunk rides with the first one."""
    pending = encoder.role()
    usage = finish = None
    try:
        async for event in stream.events():
            if event.kind == "text":
                if not event.text:
                    continue
                frame = encoder.text(event.text)
            elif event.kind == "reasoning":
                frame = encoder.reasoning(event.text)
            elif event.kind == "usage":
                usage = event.usage
                continue
            else:
                finish = event.finish_reason
                continue
            if pending:
                yield pending + frame
                pending = b""
                await first_text_out()
                continue
            yield frame
    except openai_api.UpstreamFailed as exc:  # after the first token: the stream ends with an error event
        yield pending + openai_wire.error_frame(openai_wire.wire_error(exc))
        return
    tail = pending + encoder.finish(finish)
    if include_usage:
        tail += encoder.usage(usage)
    yield tail + openai_wire.DONE
