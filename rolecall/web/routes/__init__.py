"""All routers, in the order they are mounted: one line per module."""

from rolecall.web.routes import (
    access_tokens,
    auth,
    catalog,
    characters,
    encryption,
    group,
    health,
    home,
    jobs,
    messages,
    openai_api,
    passes,
    presets,
    provider_configs,
    scenes,
    settings,
    usage,
)

# The hot routes first: a request walks the routers in order and matches every route of each one it
# passes. /v1 (a script calls it in bursts: its match went from ~120 to ~8 us), then a scene turn's
# messages and Test Key's provider configs; the others each gain a few failed matches, ~1 us each.
ROUTERS = (
    openai_api.api,
    messages.api,
    provider_configs.api,
    health.router,
    home.pages,
    auth.pages,
    auth.api,
    settings.pages,
    encryption.api,
    encryption.assets,
    catalog.api,
    scenes.pages,
    scenes.api,
    characters.api,
    group.api,
    jobs.api,
    passes.api,
    access_tokens.api,
    presets.pages,
    presets.api,
    usage.pages,
    usage.api,
)

# Served ahead of their FastAPI twins, which stay for the OpenAPI document (see web/lean.py).
LEAN = (*openai_api.LEAN, *messages.LEAN)
