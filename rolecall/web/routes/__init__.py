"""All routers, in the order they are mounted: one line per module."""

from rolecall.web.routes import auth, encryption, health, home, scenes, settings

ROUTERS = (
    health.router,
    home.pages,
    auth.pages,
    auth.api,
    settings.pages,
    encryption.api,
    encryption.assets,
    scenes.pages,
    scenes.api,
)
