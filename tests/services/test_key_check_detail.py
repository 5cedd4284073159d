"""What an Invalid card says: the stored detail of a failed check reads once, never twice."""

from __future__ import annotations

from rolecall.net.errors import BlockedAddress
from rolecall.providers import ProviderError, explain, headline
from rolecall.services.key_checks import KeyCheck


def check(head: str, text: str, status: str = "invalid") -> KeyCheck:
    return KeyCheck(status=status, headline=head, explanation=text, base_url="http://0.0.0.0:9/v1", dest_origin="http://0.0.0.0:9")


def test_an_explanation_that_opens_with_its_headline_is_said_once() -> None:
    text = str(BlockedAddress("0.0.0.0", "0.0.0.0", "unspecified"))
    assert check("Destination not allowed", text).detail == text
    assert check("Destination not allowed", text).detail.count("Destination not allowed") == 1


def test_other_details_keep_their_headline() -> None:
    assert check("401 Unauthorized", "The key you pasted is wrong.").detail == "401 Unauthorized: The key you pasted is wrong."
    assert check("Valid", "The key works.", status="valid").detail == ""


def test_the_blocked_kind_really_reads_that_way() -> None:
    error = ProviderError("blocked", str(BlockedAddress("0.0.0.0", "0.0.0.0", "unspecified")))
    assert explain(error).startswith(headline(error))
