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

# /v1 first: a request walks the routers in order and matches every route of each one it passes,
# and /v1 is the one a script calls in bursts (its match went from ~120 to ~8 us; the others
# each gain three failed matches, ~1 us).
ROUTERS = (
    openai_api.api,
    health.router,
    home.pages,
    auth.pages,
    auth.api,
    settings.pages,
    encryption.api,
    encryption.assets,
    provider_configs.api,
    catalog.api,
    scenes.pages,
    scenes.api,
    characters.api,
    messages.api,
    group.api,
    jobs.api,
    passes.api,
    access_tokens.api,
    presets.pages,
    presets.api,
    usage.pages,
    usage.api,
)
