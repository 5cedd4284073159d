"""A group scene in a real browser (docs/group-scenes.md): two characters ticked on /scenes, one
message from the person, and both characters answering on their own through a Server-Accessible
fake, live; then Stop; no axe-core violations on the way. Waits on the page's own signals."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server, add_tested_config, api_call, encryption_set_up_by_api, sign_up
from tests.browser.test_accessibility import axe_violations
from tests.fakes.openai_compat import FakeOpenAI

pytestmark = pytest.mark.browser



@pytest.fixture
def page(chromium: Any, loopback_server: Server, fake: FakeOpenAI) -> Iterator[Page]:
    fake.reset()
    context = chromium.new_context(bypass_csp=True)  # axe-core arrives as an inline script
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_up(page, loopback_server, "group-" + uuid.uuid4().hex[:8])
    encryption_set_up_by_api(page)
    yield page
    context.close()
    assert not errors, errors


def _cast(page: Page) -> None:
    for name in ("Ada", "Bram"):
        api_call(page, "POST", "/api/characters", {"name": name, "persona": f"{name} keeps the tavern."})


def test_two_characters_answer_one_message_on_their_own(page: Page, loopback_server: Server, fake: FakeOpenAI,
                                                        axe_script: Path) -> None:
    config = add_tested_config(page, "Router (group-safe)", "openrouter", fake.base_url)
    _cast(page)
    page.goto(loopback_server.url + "/scenes")
    start = page.get_by_role("group", name="Start a group scene")
    start.get_by_label("Ada").check()
    start.get_by_label("Bram").check()
    assert axe_violations(page, axe_script) == []
    page.get_by_role("button", name="Start group scene").click()
    expect(page).to_have_url(re.compile(r"/scenes/\w+$"))
    scene_id = page.url.rsplit("/", 1)[1]
    api_call(page, "PATCH", f"/api/scenes/{scene_id}", {"model": {"section": config["id"], "model_id": "gpt-4o-mini"}})
    page.reload()
    panel = page.locator('[data-role="group"]')
    expect(panel).to_have_attribute("data-mode", "group")
    expect(page.get_by_role("status").filter(has_text="Up to 3 turns")).to_be_visible()
    page.get_by_label("Turn limit").fill("2")
    page.get_by_label("Turn limit").dispatch_event("change")
    expect(page.get_by_role("status").filter(has_text="Up to 2 turns")).to_be_visible()
    assert axe_violations(page, axe_script) == []

    fake.reply.text = "Another round, then."
    page.get_by_role("textbox", name="Your message").fill("Evening, both of you.")
    page.get_by_role("textbox", name="Your message").press("Enter")
    replies = page.locator('[data-role="messages"] > li[data-status="complete"]')
    expect(replies).to_have_count(3)  # the person's message and one turn each
    expect(page.get_by_role("status").filter(has_text="turn limit was reached")).to_be_visible()
    expect(replies.nth(1)).to_contain_text("Ada")
    expect(replies.nth(2)).to_contain_text("Bram")
    expect(replies.nth(2)).to_contain_text("Another round, then.")
    page.locator(".group-jobs summary").click()
    expect(page.locator('[data-role="group-jobs"] li[data-status="done"]')).to_have_count(2)
    assert axe_violations(page, axe_script) == []

    # A slow turn, watched live, then stopped.
    fake.reply.text = " ".join(f"word{i}" for i in range(60))
    fake.plan.chunk_delay = 0.1
    page.get_by_role("textbox", name="Your message").fill("Tell me everything.")
    page.get_by_role("textbox", name="Your message").press("Enter")
    live = page.locator('[data-role="group-live"]')
    expect(live).to_be_visible()
    expect(live).to_contain_text("word3")
    assert axe_violations(page, axe_script) == []
    page.get_by_role("button", name="Stop turns").click()
    expect(page.get_by_role("status").filter(has_text="Stopped.")).to_be_visible()
    expect(page.locator('[data-role="messages"] > li[data-status="interrupted"]')).to_have_count(1)
    expect(panel).to_have_attribute("data-running", "false")
