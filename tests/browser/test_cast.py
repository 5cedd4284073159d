"""The Cast page in a real browser: two providers, search, star, collapse, and stars survive a reload."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.flows import sign_up
from tests.factories import e2e_record
from tests.fakes.fixtures import _anthropic_server, _openai_server, fake_anthropic, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY

pytestmark = pytest.mark.browser


def _api(page: Page, method: str, path: str, body: dict | None = None) -> dict:
    """Call the JSON API with the page's session, as the page's own scripts would."""
    base = page.evaluate("location.origin")
    token = page.request.get(base + "/api/csrf").json()["csrf_token"]
    response = page.request.fetch(base + path, method=method, data=body, headers={"X-CSRF-Token": token})
    assert response.ok, response.text()
    return response.json() if response.status != 204 else {}


def _add_tested_config(page: Page, label: str, provider_id: str, base_url: str) -> None:
    body = {"provider_id": provider_id, "base_url": base_url, "api_key": VALID_KEY}
    test = _api(page, "POST", "/api/provider-configs/test", body)
    assert test["status"] == "valid", test
    _api(page, "POST", "/api/provider-configs", {**body, "label": label, "privacy_mode": "srv", "test_id": test["test_id"]})


def test_search_star_collapse_and_reload(loopback_server: Any, chromium: Any, fake_openai, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    context = chromium.new_context()
    page = context.new_page()
    sign_up(page, loopback_server.url, "caster")
    account_id = _api(page, "GET", "/api/me")["id"]
    record, _ = e2e_record(account_id)
    _api(page, "POST", "/api/encryption/setup", record)
    _add_tested_config(page, "Router fallback", "openrouter", fake_openai.base_url)
    _add_tested_config(page, "Anthropic personal", "anthropic", fake_anthropic.base_url)

    page.goto(loopback_server.url + "/models")
    router = page.locator('[data-section]').filter(has_text="Router fallback")
    claude = page.locator('[data-section]').filter(has_text="Anthropic personal")
    expect(router.get_by_text("Meta: Llama 3.3 70B Instruct")).to_be_visible()
    expect(claude.get_by_text("Claude Haiku 4.5")).to_be_visible()
    expect(claude.locator('[data-model="claude-haiku-4-5-20251001"]').get_by_text("200K", exact=True)).to_be_visible()
    expect(claude.locator('[data-model="claude-haiku-4-5-20251001"]').get_by_text("Instant", exact=True)).to_be_visible()
    expect(router.locator('[data-model="deepseek/deepseek-r1:free"]').get_by_text("Free", exact=True)).to_be_visible()

    search = page.get_by_label("Search models")
    search.fill("HAIKU")
    expect(page.locator(".model-row:visible")).to_have_count(2)
    expect(router).to_have_count(0)  # no match there: the section is hidden while searching
    search.fill("")

    page.get_by_role("button", name="Star Claude Haiku 3").click()
    starred = page.locator("#starred-section")
    expect(starred.get_by_text("Claude Haiku 3")).to_be_visible()
    expect(claude.locator(".model-row").first).to_have_attribute("data-model", "claude-3-haiku-20240307")

    router.locator("summary").click()  # collapse
    expect(router.get_by_text("Meta: Llama 3.3 70B Instruct")).to_be_hidden()

    page.reload()
    expect(page.locator("#starred-section").get_by_text("Claude Haiku 3")).to_be_visible()
    claude = page.locator('[data-section]').filter(has_text="Anthropic personal")
    expect(claude.locator(".model-row").first).to_have_attribute("data-model", "claude-3-haiku-20240307")
    expect(page.locator('[data-section]').filter(has_text="Router fallback").get_by_text("Meta: Llama 3.3 70B Instruct")).to_be_hidden()
    context.close()
