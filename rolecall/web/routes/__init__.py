"""All routers, in the order they are mounted: one line per module."""

from rolecall.web.routes import (
    access_tokens,
    auth,
    catalog,
    characters,
    encryption,
    health,
    home,
    jobs,
    messages,
    openai_api,
    provider_configs,
    scenes,
    settings,
)

ROUTERS = (
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
    jobs.api,
    access_tokens.api,
    openai_api.api,
)
