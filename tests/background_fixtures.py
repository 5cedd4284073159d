"""Fixtures for tests of background work (group turns, passes): jobs that retry at once, fakes on
127.0.0.1 allowed (the logged-in `owner` comes from tests/conftest.py). Import them into a test module by name."""

from __future__ import annotations

import pytest

from rolecall.config import JobSettings, NetworkSettings


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]),
                         jobs=JobSettings(retry_delay=0, lease_seconds=30, tick_seconds=3600))
