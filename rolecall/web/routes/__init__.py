"""All routers, in the order they are mounted: one line per module."""

from rolecall.web.routes import auth, health, home, scenes, settings

ROUTERS = (
    health.router,
    home.pages,
    auth.pages,
    auth.api,
    settings.pages,
    scenes.pages,
    scenes.api,
)
