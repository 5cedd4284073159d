"""Listing configs shows how many models each has without reading any model list."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import event, text, update

from rolecall.config import NetworkSettings
from rolecall.storage.tables import ProviderConfig, utcnow
from tests.factories import e2e_record
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers

MODELS_COLUMN = re.compile(r"provider_config\.models\b(?!_)")


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))


async def encryption_set_up(client: httpx.AsyncClient) -> dict[str, str]:
    """Encryption set up for the logged-in account; the CSRF headers for its writes."""
    record, _ = e2e_record((await client.get("/api/me")).json()["id"])
    headers = await csrf_headers(client)
    await client.post("/api/encryption/setup", json=record, headers=headers)
    return headers


async def test_listing_configs_never_loads_model_lists(app, alice: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    headers = await encryption_set_up(alice)
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


async def _count_writes(app) -> None:  # type: ignore[no-untyped-def]
    """Triggers that count, in the database itself, the rows a statement updated and the rows whose
    model list it wrote (`UPDATE OF models`: the column is in the statement's SET list), whichever
    connection or driver ran it."""
    async with app.state.res.db.begin() as s:
        await s.execute(text("CREATE TABLE write_count (kind VARCHAR(10) NOT NULL)"))
        if s.bind.dialect.name == "sqlite":
            for kind, when in (("row", "UPDATE"), ("list", "UPDATE OF models")):
                await s.execute(text(f"CREATE TRIGGER count_{kind} AFTER {when} ON provider_config "
                                     f"BEGIN INSERT INTO write_count VALUES ('{kind}'); END"))
            return
        for kind, when in (("row", "UPDATE"), ("list", "UPDATE OF models")):
            await s.execute(text(f"CREATE FUNCTION count_{kind}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                 f"INSERT INTO write_count VALUES ('{kind}'); RETURN NEW; END $$"))
            await s.execute(text(f"CREATE TRIGGER count_{kind} AFTER {when} ON provider_config "
                                 f"FOR EACH ROW EXECUTE FUNCTION count_{kind}()"))


async def _drop_counting(app) -> None:  # type: ignore[no-untyped-def]
    async with app.state.res.db.begin() as s:
        await s.execute(text("DROP TABLE write_count"))
        for kind in ("row", "list"):
            await s.execute(text(f"DROP TRIGGER count_{kind}" + ("" if s.bind.dialect.name == "sqlite"
                                                                 else " ON provider_config")))
            if s.bind.dialect.name != "sqlite":
                await s.execute(text(f"DROP FUNCTION count_{kind}()"))


async def test_test_key_writes_the_list_only_when_it_changed(app, alice: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    headers = await encryption_set_up(alice)
    fake_openai.models = [{"id": f"model-{n}", "object": "model", "owned_by": "x"} for n in range(5)]
    saved = await alice.post("/api/provider-configs", json={
        "provider_id": "openai", "base_url": fake_openai.base_url, "api_key": VALID_KEY, "label": "c",
        "privacy_mode": "srv"}, headers=headers)
    path = f"/api/provider-configs/{saved.json()['id']}"
    await _count_writes(app)

    async def test_key() -> tuple[dict[str, object], list[str]]:
        async with app.state.res.db.begin() as s:
            await s.execute(text("DELETE FROM write_count"))
        result = (await alice.post(path + "/test", json={}, headers=headers)).json()
        async with app.state.res.db() as s:
            return result, sorted((await s.execute(text("SELECT kind FROM write_count"))).scalars())

    try:
        first, writes = await test_key()
        assert first["status"] == "valid" and writes == ["list", "row"]  # a new list: stored with the verdict
        again, writes = await test_key()
        assert again["status"] == "valid" and writes == ["row"]  # the same list: only the verdict is written
        fake_openai.models = fake_openai.models[:3]
        _, writes = await test_key()
        assert writes == ["list", "row"]
    finally:
        await _drop_counting(app)
    listed = (await alice.get("/api/provider-configs")).json()
    assert [(c["status"], c["models_count"]) for c in listed] == [("valid", 3)]
    models = (await alice.get("/api/catalog/sections/" + saved.json()["id"])).json()["models"]
    assert [m["id"] for m in models] == ["model-0", "model-1", "model-2"]


async def test_test_key_rewrites_a_list_changed_elsewhere(app, alice: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    """Another replica (or the refresh job) stored another list since this process wrote its own:
    the next Test stores the provider's list again, even though it equals what this process wrote."""
    headers = await encryption_set_up(alice)
    fake_openai.models = [{"id": f"model-{n}", "object": "model", "owned_by": "x"} for n in range(5)]
    saved = await alice.post("/api/provider-configs", json={
        "provider_id": "openai", "base_url": fake_openai.base_url, "api_key": VALID_KEY, "label": "c",
        "privacy_mode": "srv"}, headers=headers)
    config_id = saved.json()["id"]
    for _ in range(2):
        assert (await alice.post(f"/api/provider-configs/{config_id}/test", json={}, headers=headers)).json()["status"] == "valid"
    async with app.state.res.db.begin() as s:
        await s.execute(update(ProviderConfig).where(ProviderConfig.id == config_id).values(
            models=[{"id": "elsewhere", "name": None, "context_window": None, "max_output": None, "capabilities": [],
                     "input_price": None, "output_price": None, "free": None, "source": "provider"}],
            models_count=1, models_fetched_at=utcnow()))
    assert (await alice.post(f"/api/provider-configs/{config_id}/test", json={}, headers=headers)).json()["status"] == "valid"
    models = (await alice.get(f"/api/catalog/sections/{config_id}")).json()["models"]
    assert [m["id"] for m in models] == [f"model-{n}" for n in range(5)]
    assert [(c["models_count"]) for c in (await alice.get("/api/provider-configs")).json()] == [5]
