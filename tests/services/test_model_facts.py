"""What a generation knows about a config's model before calling it: the config's stored list, read
again once the list has a new version, with the curated facts filling what the list leaves out."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from rolecall.services import model_facts
from rolecall.services.resources import Resources
from rolecall.storage.tables import ProviderConfig, utcnow
from tests.services.conftest import add_account


async def _config(res: Resources, models: list[dict[str, object]]) -> str:
    account_id = await add_account(res, "alice")
    async with res.db.begin() as s:
        s.add(ProviderConfig(id="cfg-1", account_id=account_id, provider_id="openai", label="mine", privacy_mode="srv",
                             base_url="https://api.openai.com/v1", dest_origin="https://api.openai.com",
                             models=models, models_count=len(models), models_fetched_at=utcnow()))
    return "cfg-1"


async def test_facts_follow_the_stored_list_and_its_new_versions(res: Resources, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_facts, "RECHECK_SECONDS", 0.0)  # every call looks at the list's version
    config_id = await _config(res, [{"id": "house-model", "context_window": 1000, "max_output": 100,
                                     "capabilities": ["vision"]}])

    first = await model_facts.of_config(res.db, config_id, "house-model")
    assert (first.context_window, first.max_output, first.vision) == (1000, 100, True)

    async with res.db.begin() as s:  # a Test Key stored a new list
        await s.execute(update(ProviderConfig).where(ProviderConfig.id == config_id).values(
            models=[{"id": "house-model", "context_window": 2000, "max_output": 200, "capabilities": []}],
            models_fetched_at=utcnow()))

    again = await model_facts.of_config(res.db, config_id, "house-model")
    assert (again.context_window, again.max_output) == (2000, 200)
    unknown = await model_facts.of_config(res.db, config_id, "not-listed-anywhere")
    assert unknown == model_facts.ModelFacts()
    curated = await model_facts.of_config(res.db, config_id, "gpt-4o")  # not in the list: the curated facts
    assert curated.context_window is not None
