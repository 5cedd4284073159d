"""Checks shared by the services' form fields."""

from __future__ import annotations

from rolecall.services.errors import Invalid


def required_text(value: str | None, *, field: str, limit: int, empty: str, too_long: str) -> str:
    """``value`` trimmed; `Invalid` on ``field`` with ``empty`` or ``too_long`` (past ``limit``)."""
    text = (value or "").strip()
    if not text:
        raise Invalid(empty, field=field)
    if len(text) > limit:
        raise Invalid(too_long, field=field)
    return text
