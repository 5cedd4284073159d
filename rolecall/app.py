"""The ASGI application: ``create_app(settings)`` wires routers, middleware and the lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import Message

from rolecall import __version__
from rolecall.config import Settings
from rolecall.resources import open_resources
from rolecall.services import catalog_warm
from rolecall.web import lean
from rolecall.web.deps import compile_templates
from rolecall.web.errors import install_error_handlers
from rolecall.web.http_protocol import CappedHttpTools
from rolecall.web.openapi import install_openapi
from rolecall.web.request_guard import RequestGuard
from rolecall.web.routes import LEAN, ROUTERS
from rolecall.web.security import SecurityMiddleware, csrf_protect
from rolecall.web.static_files import StaticFromMemory, load_dir

STATIC_DIR = Path(__file__).parent / "web" / "static"
# `rolecall serve`'s uvicorn options: the httptools parser (cheaper per streamed chunk than h11)
# with our own 16 KiB bound on the request line and headers (`web/http_protocol.py`; more is
# answered 400 before the app runs); idle keep-alive connections close after 5 s.
SERVER_LIMITS: dict[str, Any] = {"http": CappedHttpTools, "timeout_keep_alive": 5}
# A phrase change uploads every end-to-end key re-sealed at once (up to ~33 KB each).
# A chat history sent to the OpenAI-compatible API can hold a long conversation.
LARGER_BODIES = {"/api/encryption/change-phrase": 8 * 1024 * 1024, "/v1/chat/completions": 8 * 1024 * 1024}


async def _warm_up(app: FastAPI) -> None:
    """One request nobody answers, sent through the app before it serves: FastAPI builds each
    route's dependency plan on the first request that reaches it (~50 ms over all routes), which
    otherwise the first visitors after a start would wait for."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/api/_warm-up", "raw_path": b"/api/_warm-up", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 80),
             "state": {}}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    await app(scope, receive, send)


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings, consume_jobs=settings.run_embedded_worker) as res:
            app.state.res = res
            compile_templates()
            await _warm_up(app)
            await catalog_warm.warm_first_screens(res)
            yield

    app = FastAPI(
        title="RoleCall",
        version=__version__,
        summary="Chat with AI characters in scenes, on hosted models or your own provider keys.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        dependencies=[Depends(csrf_protect)],
        # RoleCall exports no OpenTelemetry and reaches no collector at run time (an environment
        # variable could otherwise switch FastAPI's exporters on); off, FastAPI also stops asking
        # the global providers on every request (docs/decisions.md, "FastAPI's telemetry").
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.state.settings = settings
    # Added first, so it runs inside SecurityMiddleware: its refusals get the security headers too.
    app.add_middleware(RequestGuard, max_body=settings.max_request_bytes, larger=LARGER_BODIES)
    app.add_middleware(SecurityMiddleware, cookie_secure=settings.cookie_secure)
    # Catalog JSON and scripts compress ~5-15x; level 6 costs a third of level 9's CPU for nearly
    # the same size. Starlette leaves text/event-stream (generation streams) alone. HTML is not
    # compressed: a page carries the CSRF token next to reflected form input (BREACH).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6,
                       exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "text/html"))
    # Outermost: a page's scripts and styles skip the stack above (see web/static_files.py).
    app.add_middleware(StaticFromMemory, files=load_dir(STATIC_DIR))  # read now, not on the first request
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    lean.install(app, LEAN)
    install_openapi(app)
    return app
