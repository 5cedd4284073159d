"""Post-production in the scene page: Summarize now shows the pass queued or running, then done,
and the summary; Polish adds a marked alternative; a nightly summary and a one-off regeneration
are scheduled in the person's own time zone and cancelled; the panel has no axe-core violations."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.test_accessibility import axe_violations
from tests.browser.test_scenes import add_server_config, api, scene_with, sign_up, wait_done
from tests.fakes.openai_compat import FakeOpenAI

pytestmark = pytest.mark.browser
SUMMARY = "Mara kept the lamp lit while the storm came in."



def test_summarize_now_polish_and_schedules(chromium: Any, loopback_server: Server, fake: FakeOpenAI,
                                            axe_script: Path) -> None:
    # axe-core goes in as an inline script; the browser is in New York, whatever the machine's zone.
    person = sign_up(chromium, loopback_server, bypass_csp=True, timezone_id="America/New_York", locale="en-US")
    page = person.page
    config_id = add_server_config(person, "Router", fake)
    scene_with(person, loopback_server, config_id, "gpt-4o-mini")
    page.get_by_label("Your message", exact=True).fill("Is the light ever wrong?")
    page.get_by_label("Your message", exact=True).press("Enter")
    wait_done(page)

    panel = page.locator("[data-passes]")
    expect(panel).to_have_attribute("data-state", "idle")
    panel.locator("summary").click()
    expect(panel.get_by_text("No summary yet.")).to_be_visible()
    assert axe_violations(page, axe_script) == []

    # Summarize now: the pass is listed while it waits for the slow upstream, then done with the summary.
    fake.reply.text = SUMMARY
    fake.plan.first_byte_delay = 3
    panel.get_by_role("button", name="Summarize now").click()
    pass_item = panel.locator('[data-role="recent"] li[data-kind="summary"]').first
    expect(pass_item).to_have_attribute("data-status", re.compile("queued|running"))
    expect(pass_item.locator(".passes__status")).to_have_text(re.compile("queued|running"))
    expect(panel).to_have_attribute("data-state", "working")
    expect(pass_item).to_have_attribute("data-status", "done")
    expect(panel.locator('[data-role="summary-text"]')).to_have_text(SUMMARY)
    expect(panel.locator('[data-role="summary-meta"]')).to_contain_text("Covers the first 3 messages")
    fake.plan.first_byte_delay = 0

    # Polish the reply: a new alternative, marked, shown in the scene.
    fake.reply.text = "Never. The light is never wrong."
    reply = page.locator('.msg[data-role="assistant"]').last
    fake.plan.first_byte_delay = 3
    reply.get_by_role("button", name="Polish this reply").click()
    expect(reply.locator(".passes__busy")).to_have_text("polishing…")
    fake.plan.first_byte_delay = 0
    expect(reply).to_contain_text("Never. The light is never wrong.")
    expect(page.locator('.msg[data-role="assistant"]').last.locator(".msg__mark")).to_have_text("polished")
    expect(page.locator('.msg[data-role="assistant"]').last).to_have_attribute("data-alternatives", "2")

    # Schedule: nightly summary at 03:00 New York time, and a one-off regeneration in an hour (the
    # form's default).
    panel.get_by_role("button", name="Summarize nightly").click()
    schedules = panel.locator('[data-role="schedules"]')
    expect(schedules.locator('li[data-kind="summary"]')).to_contain_text("Summary every night at 03:00")
    expect(schedules.locator('li[data-kind="summary"]')).to_contain_text(re.compile(r"next run .* 3:00\sAM"))
    expect(schedules).not_to_contain_text("UTC")
    expect(panel.get_by_role("button", name="Summarize nightly")).to_be_disabled()
    later = "Regenerate at… (schedule a new version of this reply)"
    page.locator('.msg[data-role="assistant"]').last.get_by_role("button", name=later).click()
    page.get_by_label("Regenerate at (your time)").wait_for()
    assert axe_violations(page, axe_script) == []
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(schedules.locator('li[data-kind="regenerate"]')).to_contain_text("next run")
    listed = api(page, "GET", "/api/schedules")["schedules"]
    assert sorted((s["kind"], s["time_zone"]) for s in listed) == [("regenerate", "America/New_York"),
                                                                   ("summary", "America/New_York")]
    nightly = next(s for s in listed if s["kind"] == "summary")
    assert datetime.fromisoformat(nightly["next_run_at"]).astimezone(ZoneInfo("America/New_York")).hour == 3
    schedules.get_by_role("button", name="Cancel: Summary every night at 03:00").click()
    expect(schedules.locator('li[data-kind="summary"]')).to_have_count(0)
    expect(panel.get_by_role("button", name="Summarize nightly")).to_be_enabled()
    assert [s["kind"] for s in api(page, "GET", "/api/schedules")["schedules"]] == ["regenerate"]
    assert person.errors == []
