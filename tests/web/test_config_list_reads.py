"""Listing configs shows how many models each has without reading any model list."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import event

from rolecall.config import NetworkSettings
from tests.factories import e2e_record
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers

MODELS_COLUMN = re.compile(r"provider_config\.models\b(?!_)")


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))


async def test_listing_configs_never_loads_model_lists(app, alice: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    account_id = (await alice.get("/api/me")).json()["id"]
    record, _ = e2e_record(account_id)
    headers = await csrf_headers(alice)
    await alice.post("/api/encryption/setup", json=record, headers=headers)
    fake_openai.models = [{"id": f"model-{n}", "object": "model", "owned_by": "x"} for n in range(250)]
    for n in range(3):
        body = {"provider_id": "openai", "base_url": fake_openai.base_url, "api_key": VALID_KEY}
        test_id = (await alice.post("/api/provider-configs/test", json=body, headers=headers)).json()["test_id"]
        saved = await alice.post("/api/provider-configs", json={**body, "label": f"c{n}", "privacy_mode": "srv",
                                                                "test_id": test_id}, headers=headers)
        assert saved.json()["models_count"] == 250

    statements: list[str] = []
    engine = app.state.res.engine.sync_engine
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        listed = (await alice.get("/api/provider-configs")).json()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert [c["models_count"] for c in listed] == [250, 250, 250]
    config_reads = [s for s in statements if "FROM provider_config" in s]
    assert config_reads, statements
    assert not [s for s in config_reads if MODELS_COLUMN.search(s)], config_reads
