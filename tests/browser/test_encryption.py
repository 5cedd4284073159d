"""The whole recovery-phrase flow in a real browser: set up, type back, log in elsewhere, unlock."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, set_up_encryption, settled, show_new_words, sign_up, type_back

pytestmark = pytest.mark.browser
VALID_BUT_NOT_OURS = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def _capture(page: Page, sink: list[str]) -> None:
    page.on("request", lambda r: sink.append(f"{r.method} {r.url}\n{r.post_data or ''}"))


def _log_in(page: Page, url: str, name: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(url + "/scenes")


def _unlock(page: Page, phrase: str, *, remember: bool = False) -> str:
    """Type a phrase into Unlock and submit; returns the card's state once the step has finished."""
    settled(page, "#encryption")
    page.get_by_role("textbox", name="Recovery phrase").fill(phrase)
    if remember:
        page.get_by_label(re.compile("Remember on this device")).check()
    page.get_by_role("button", name="Unlock").click()
    return settled(page, "#encryption")


def test_set_up_then_unlock_on_a_fresh_browser(server: Any, chromium: Any) -> None:
    sent: list[str] = []
    first = chromium.new_context()
    page = first.new_page()
    _capture(page, sent)
    sign_up(page, server, "phrase-keeper")
    page.goto(server.url + "/settings?tab=api-keys")
    status = page.get_by_test_id("encryption-status")
    expect(status).to_have_text("Not set up")
    expect(page.get_by_text("Set up encryption first")).to_be_visible()
    expect(page.get_by_role("button", name="+ Add Provider")).to_be_hidden()

    words = show_new_words(page)
    assert len(words) == 12 and all(re.fullmatch(r"[a-z]{3,8}", w) for w in words)
    expect(page.get_by_role("button", name="Continue")).to_be_disabled()

    wrong = "zoo" if words[4] != "zoo" else "zone"
    assert type_back(page, [*words[:4], wrong, *words[5:]]) == "confirm"
    expect(page.get_by_role("alert")).to_have_text("Word 5 doesn't match what was shown. Check it and try again.")
    expect(page.get_by_label("Word 5", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Word 4", exact=True)).to_have_attribute("aria-invalid", "false")
    expect(status).to_have_text("Not set up")

    # Prefix completion: the first four letters are enough.
    page.get_by_label("Word 5", exact=True).fill(words[4][:4])
    page.get_by_role("button", name="Confirm").click()
    assert settled(page, "#encryption") == "unlocked"
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
    _log_in(page, server.url, "phrase-keeper")
    page.goto(server.url + "/settings?tab=api-keys")
    expect(page.get_by_test_id("encryption-status")).to_have_text("Active")
    alert = page.get_by_role("alert")

    assert _unlock(page, " ".join([*words[:2], "xyzzy", *words[3:]])) == "locked"
    expect(alert).to_have_text("Word 3, “xyzzy”, is not in the recovery word list. Check its spelling.")
    assert _unlock(page, " ".join(words[:11])) == "locked"
    expect(alert).to_have_text("A recovery phrase has 12 words; you entered 11.")
    assert _unlock(page, VALID_BUT_NOT_OURS) == "locked"
    expect(alert).to_have_text("This phrase doesn't match your account. Check that it is the latest one you wrote down.")
    assert _unlock(page, "  " + "  ".join(w.upper() for w in words) + " ") == "unlocked"
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
    sign_up(page, server, "rememberer")
    page.goto(server.url + "/settings?tab=api-keys")
    words = set_up_encryption(page)

    page.get_by_role("button", name="Forget this device").click()
    bad = words[:]
    bad[0], bad[1] = bad[1], bad[0]
    if bad != words:  # two swapped words almost always break the 4-bit checksum
        assert _unlock(page, " ".join(bad)) == "locked"
        expect(page.get_by_role("alert")).to_contain_text(
            re.compile("don't form a valid recovery phrase|doesn't match your account"))

    assert _unlock(page, " ".join(words), remember=True) == "unlocked"
    expect(page.get_by_text("This browser remembers the key.")).to_be_visible()
    page.reload()
    assert settled(page, "#encryption") == "unlocked"  # no phrase needed
    expect(page.get_by_text("Unlocked on this device.")).to_be_visible()
    page.get_by_role("button", name="Forget this device").click()
    # Forgetting clears the browser's key store asynchronously: reload once the page says it is done.
    expect(page.get_by_text("This browser no longer holds your key.")).to_be_visible()
    page.reload()
    assert settled(page, "#encryption") == "locked"
    expect(page.get_by_role("textbox", name="Recovery phrase")).to_be_visible()
    context.close()


def test_pasting_the_whole_phrase_into_the_first_box_spreads_it(server: Any, chromium: Any) -> None:
    context = chromium.new_context()
    page = context.new_page()
    sign_up(page, server, "paster")
    page.goto(server.url + "/settings?tab=api-keys")
    words = show_new_words(page)
    page.get_by_label("I have written down all 12 words").check()
    page.get_by_role("button", name="Continue").click()
    first = page.get_by_label("Word 1", exact=True)
    first.focus()
    page.keyboard.insert_text("  " + "  ".join(words) + " ")  # what pasting the whole phrase inserts
    for i, word in enumerate(words):
        expect(page.get_by_label(f"Word {i + 1}", exact=True)).to_have_value(word)
    page.get_by_role("button", name="Confirm").click()
    assert settled(page, "#encryption") == "unlocked"
    expect(page.get_by_test_id("encryption-status")).to_have_text("Active")
    context.close()
