"""The floor of one more hop: a minimal pass-through proxy (aiohttp server and client), no code of ours.

Run by `bench_relay.py` as the case `floor`: `python bench/relay_floor.py UPSTREAM_URL PORT`. It
forwards `POST /v1/chat/completions` with its body and bearer to the upstream and streams the
answer's bytes back unchanged: no accounts, no checks, no parsing. What it adds to the time to
first token over calling the upstream directly is what any Python proxy in front of the same fake
costs on this machine (two more process hops, a request in and a request out), the reference the
relay's and /v1's added TTFT are read against.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

from aiohttp import ClientSession, TCPConnector, web

UPSTREAM, PORT = sys.argv[1], int(sys.argv[2])


async def chat(request: web.Request) -> web.StreamResponse:
    session: ClientSession = request.app["session"]
    headers = {"authorization": request.headers["authorization"], "content-type": "application/json"}
    async with session.post(UPSTREAM + "/chat/completions", data=await request.read(), headers=headers) as upstream:
        response = web.StreamResponse(status=upstream.status, headers={"content-type": upstream.content_type})
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": []})


async def session(app: web.Application) -> AsyncIterator[None]:
    app["session"] = ClientSession(connector=TCPConnector(limit=0))
    yield
    await app["session"].close()


if __name__ == "__main__":
    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    web.run_app(app, host="127.0.0.1", port=PORT, print=None, access_log=None)
