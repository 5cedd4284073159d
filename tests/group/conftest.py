"""Group scenes run against the real fake OpenAI upstream; configs are made through the app's API."""

from __future__ import annotations

from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
