"""The whole recovery-phrase flow in a real browser: set up, type back, log in elsewhere, unlock."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.flows import PASSWORD, log_in, set_up_encryption, sign_up

pytestmark = pytest.mark.browser
VALID_BUT_NOT_OURS = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def _capture(page: Page, sink: list[str]) -> None:
    page.on("request", lambda r: sink.append(f"{r.method} {r.url}\n{r.post_data or ''}"))


def test_set_up_then_unlock_on_a_fresh_browser(server: Any, chromium: Any) -> None:
    sent: list[str] = []
    first = chromium.new_context()
    page = first.new_page()
    _capture(page, sent)
    page.goto(server.url + "/signup")
    page.get_by_label("Name").fill("phrase-keeper")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.goto(server.url + "/settings?tab=api-keys")
    status = page.get_by_test_id("encryption-status")
    expect(status).to_have_text("Not set up")
    expect(page.get_by_text("Set up encryption first")).to_be_visible()
    expect(page.get_by_role("button", name="+ Add Provider")).to_be_hidden()

    page.get_by_role("button", name="Set up encryption").click()
    words = page.get_by_role("list", name="Your recovery phrase").locator("li").all_inner_texts()
    assert len(words) == 12 and all(re.fullmatch(r"[a-z]{3,8}", w) for w in words)
    continue_button = page.get_by_role("button", name="Continue")
    expect(continue_button).to_be_disabled()
    page.get_by_label("I have written down all 12 words").check()
    continue_button.click()

    wrong = "zoo" if words[4] != "zoo" else "zone"
    for i, word in enumerate(words):
        page.get_by_label(f"Word {i + 1}", exact=True).fill(wrong if i == 4 else word)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_have_text("Word 5 doesn't match what was shown. Check it and try again.")
    expect(page.get_by_label("Word 5", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Word 4", exact=True)).to_have_attribute("aria-invalid", "false")
    expect(status).to_have_text("Not set up")

    # Prefix completion: the first four letters are enough.
    page.get_by_label("Word 5", exact=True).fill(words[4][:4])
    page.get_by_role("button", name="Confirm").click()
    expect(status).to_have_text("Active")
    expect(page.get_by_text("Unlocked on this device.")).to_be_visible()
    expect(page.get_by_role("button", name="+ Add Provider")).to_be_visible()
    expect(page.get_by_text("Set up encryption first")).to_be_hidden()

    page.get_by_role("button", name=re.compile("Log out")).click()
    expect(page).to_have_url(server.url + "/login")
    first.close()

    second = chromium.new_context()  # a fresh browser profile: nothing remembered
    page = second.new_page()
    _capture(page, sent)
    log_in(page, server.url, "phrase-keeper")
    page.goto(server.url + "/settings?tab=api-keys")
    expect(page.get_by_test_id("encryption-status")).to_have_text("Active")
    phrase_box = page.get_by_role("textbox", name="Recovery phrase")
    unlock = page.get_by_role("button", name="Unlock")
    alert = page.get_by_role("alert")

    phrase_box.fill(" ".join(words[:2] + ["xyzzy"] + words[3:]))
    unlock.click()
    expect(alert).to_have_text("Word 3, “xyzzy”, is not in the recovery word list. Check its spelling.")
    phrase_box.fill(" ".join(words[:11]))
    unlock.click()
    expect(alert).to_have_text("A recovery phrase has 12 words; you entered 11.")
    phrase_box.fill(VALID_BUT_NOT_OURS)
    unlock.click()
    expect(alert).to_have_text("This phrase doesn't match your account. Check that it is the latest one you wrote down.")
    phrase_box.fill("  " + "  ".join(w.upper() for w in words) + " ")
    unlock.click()
    expect(page.get_by_text("Unlocked on this device.")).to_be_visible()
    second.close()

    phrase = " ".join(words)
    for request in sent:
        assert phrase not in request
        for i in range(10):
            assert " ".join(words[i:i + 3]) not in request, request[:200]
            assert '","'.join(words[i:i + 3]) not in request, request[:200]


def test_checksum_error_and_remembered_device(server: Any, chromium: Any) -> None:
    context = chromium.new_context()
    page = context.new_page()
    sign_up(page, server.url, "rememberer")
    page.goto(server.url + "/settings?tab=api-keys")
    words = set_up_encryption(page)

    page.get_by_role("button", name="Forget this device").click()
    bad = words[:]
    bad[0], bad[1] = bad[1], bad[0]
    if bad != words:  # two swapped words almost always break the 4-bit checksum
        page.get_by_role("textbox", name="Recovery phrase").fill(" ".join(bad))
        page.get_by_role("button", name="Unlock").click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(re.compile("don't form a valid recovery phrase|doesn't match your account"))

    page.get_by_role("textbox", name="Recovery phrase").fill(" ".join(words))
    page.get_by_label(re.compile("Remember on this device")).check()
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("This browser remembers the key.")).to_be_visible()
    page.reload()
    expect(page.get_by_text("Unlocked on this device.")).to_be_visible()  # no phrase needed
    page.get_by_role("button", name="Forget this device").click()
    page.reload()
    expect(page.get_by_role("textbox", name="Recovery phrase")).to_be_visible()
    context.close()
