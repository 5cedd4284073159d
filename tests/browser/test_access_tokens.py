"""Settings → Access Tokens in a real browser: create (shown once), use it on /v1, see its last use, revoke."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
PASSWORD = "a stage of one's own"


def test_create_use_and_revoke_a_token(server: Any, chromium: Any) -> None:
    context = chromium.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/signup")
    page.get_by_label("Name").fill("tokenista")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(server.url + "/scenes")

    page.goto(server.url + "/settings?tab=access-tokens")
    tabs = page.get_by_role("navigation", name="Settings")
    expect(tabs.get_by_role("link", name="Access Tokens")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    expect(page.locator('[data-role="base-url"]')).to_have_text(server.url + "/v1")

    page.get_by_role("button", name="Create token").click()  # no name yet
    expect(page.get_by_role("alert").first).to_have_text(re.compile("Give the token a name"))
    page.get_by_label("Name").fill("My editor")
    page.get_by_label(re.compile("List models")).uncheck()
    page.get_by_label("Expires").select_option("30")
    page.get_by_role("button", name="Create token").click()
    shown = page.get_by_role("textbox", name="Token “My editor”")
    expect(shown).to_have_value(re.compile(r"^rc_pat_[A-Za-z0-9_-]{43}$"))
    token = shown.input_value()
    row = page.get_by_role("row", name=re.compile("My editor"))
    expect(row).to_contain_text("chat")
    expect(row).to_contain_text(f"…{token[-4:]}")
    expect(row).to_contain_text("Not used yet")
    page.get_by_role("button", name="Done").click()
    expect(shown).to_be_hidden()

    # The token works on the API with its scope, and only there.
    chat_only = httpx.post(server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {token}"},
                           json={"model": "x/y", "messages": [{"role": "user", "content": "hi"}]})
    assert chat_only.status_code == 404 and chat_only.json()["error"]["code"] == "model_not_found"
    assert httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    page.reload()
    expect(page.get_by_role("row", name=re.compile("My editor"))).not_to_contain_text("Not used yet")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke token “My editor”").click()
    expect(page.get_by_text("No tokens yet.")).to_be_visible()
    refused = httpx.post(server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {token}"},
                         json={"model": "x/y", "messages": [{"role": "user", "content": "hi"}]})
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
    assert errors == []
    context.close()
