"""The settings of tests whose provider fakes listen on 127.0.0.1: private addresses allowed for
outbound calls. Import it into a test module by name (``from tests.loopback_fixtures import settings``)."""

from __future__ import annotations

import pytest

from rolecall.config import NetworkSettings


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))
