"""validate_base_url and origin_of tables."""

from __future__ import annotations

import pytest

from rolecall.net import InvalidURL, NetError, origin_of, validate_base_url

VALID = [
    ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ("  https://api.openai.com/v1/  ", "https://api.openai.com/v1"),
    ("HTTPS://API.OpenAI.COM/v1", "https://api.openai.com/v1"),
    ("https://api.openai.com", "https://api.openai.com"),
    ("https://api.openai.com/", "https://api.openai.com"),
    ("https://api.openai.com:443/v1", "https://api.openai.com/v1"),
    ("http://example.com:80/", "http://example.com"),
    ("https://example.com:8443/api/", "https://example.com:8443/api"),
    ("http://example.com:443/", "http://example.com:443"),
    ("HTTPS://example.com:443/v1", "https://example.com/v1"),
    ("https://example.com./v1", "https://example.com/v1"),
    ("https://bücher.de/v1", "https://xn--bcher-kva.de/v1"),
    ("https://my-llm.trycloudflare.com", "https://my-llm.trycloudflare.com"),
    ("https://a.b/x/../v1", "https://a.b/v1"),
    ("https://a.b/v1//", "https://a.b/v1"),
    ("https://a.b/caf%C3%A9", "https://a.b/caf%C3%A9"),
    ("https://a.b/café", "https://a.b/caf%C3%A9"),
    ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),  # the guard decides at connect time
    ("http://127.1:11434", "http://127.0.0.1:11434"),  # odd IPv4 shown as what it is
    ("http://2130706433/", "http://127.0.0.1"),
    ("http://0x7f.1/", "http://127.0.0.1"),
    ("http://[::1]:8080/v1", "http://[::1]:8080/v1"),
    ("http://[0:0:0:0:0:0:0:1]/", "http://[::1]"),
    ("https://h:1", "https://h:1"),
    ("https://h:65535", "https://h:65535"),
    ("https://under_score.example", "https://under_score.example"),
]

INVALID = [
    # (url, words the message must contain)
    ("", "empty"),
    ("   ", "empty"),
    ("api.openai.com/v1", "http:// or https://"),
    ("ftp://example.com", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("gopher://example.com", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("ws://example.com", "http:// or https://"),
    ("https:/example.com", "http:// or https://"),
    ("https://", "no host"),
    ("https:///v1", "no host"),
    ("https://user:pass@example.com", "user name or password"),
    ("https://user@example.com", "user name or password"),
    ("https://@example.com", "user name or password"),
    ("https://api.openai.com@evil.com/", "user name or password"),
    ("https://evil.com#@api.openai.com", "fragment"),
    ("https://example.com/v1#x", "fragment"),
    ("https://example.com/#", "fragment"),
    ("http:/\\evil.com", "http:// or https://"),
    ("https://example.com\\@evil.com", "backslash"),
    ("https://exa mple.com", "space or control"),
    ("https://example.com/a b", "space or control"),
    ("https://example.com/v1\r\nX-Injected: 1", "space or control"),
    ("https://example.com/\tv1", "space or control"),
    ("https://example.com/\x00", "space or control"),
    ("https://example.com/\x7f", "space or control"),
    ("https://exam\u200bple.com", "space or control"),  # zero-width space
    ("https://example.com/\u202eevil", "space or control"),  # bidi override
    ("https://example.com/a\u00a0b", "space or control"),  # no-break space
    ("https://example.com:0/", "between 1 and 65535"),
    ("https://example.com:65536/", "between 1 and 65535"),
    ("https://example.com:99999999999/", "between 1 and 65535"),
    ("https://example.com:-1/", "between 1 and 65535"),
    ("https://example.com:abc/", "not valid"),
    ("https://example.com/v1?key=1", "query"),
    ("https://example.com/v1?", "query"),
    ("https://%31%32%37.0.0.1/", "'%'"),
    ("https://[fe80::1%25eth0]/", "'%'"),
    ("https://0177.0.0.1/", "not valid"),  # httpx refuses leading-zero dotted quads
    ("https://ex!ample.com/", "not a valid domain name"),
    ("https://-bad-.example/", "not a valid domain name"),
    ("https://a..b/", "not a valid domain name"),
    ("https://" + "a" * 64 + ".com/", "not a valid domain name"),
    ("https://ｅｘａｍｐｌｅ.com/", "not valid"),  # fullwidth: not IDNA2008
    ("https://example.com/" + "a" * 2048, "longer than 2048"),
]


@pytest.mark.parametrize(("url", "normalized"), VALID)
def test_valid_base_urls_are_normalized(url: str, normalized: str) -> None:
    assert validate_base_url(url) == normalized
    assert validate_base_url(normalized) == normalized  # idempotent


@pytest.mark.parametrize(("url", "words"), INVALID)
def test_invalid_base_urls_are_refused_with_a_reason(url: str, words: str) -> None:
    with pytest.raises(InvalidURL) as info:
        validate_base_url(url)
    assert words in str(info.value)
    assert isinstance(info.value, NetError) and isinstance(info.value, ValueError)


def test_error_messages_do_not_echo_credentials() -> None:
    with pytest.raises(InvalidURL) as info:
        validate_base_url("https://user:sk-canary-secret@example.com")
    assert "sk-canary" not in str(info.value)


def test_length_limit_is_inclusive() -> None:
    base = "https://example.com/"
    assert validate_base_url(base + "a" * (2048 - len(base))) == base + "a" * (2048 - len(base))


ORIGINS = [
    ("https://api.openai.com/v1", "https://api.openai.com"),
    ("https://API.openai.com:443/v1/chat", "https://api.openai.com"),
    ("http://example.com:80", "http://example.com"),
    ("https://example.com:8443/x", "https://example.com:8443"),
    ("http://example.com:443/", "http://example.com:443"),
    ("HTTPS://example.com:443/", "https://example.com"),
    ("HTTP://example.com:80/", "http://example.com"),
    ("https://bücher.de/", "https://xn--bcher-kva.de"),
    ("https://example.com./v1", "https://example.com"),
    ("http://[::1]:11434/v1", "http://[::1]:11434"),
    ("http://127.1:11434", "http://127.0.0.1:11434"),
]


@pytest.mark.parametrize(("url", "origin"), ORIGINS)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


def test_origin_of_validated_url_matches_origin_of_the_raw_one() -> None:
    raw = " HTTPS://Api.Example.com:443/v1/ "
    assert origin_of(validate_base_url(raw)) == origin_of(raw) == "https://api.example.com"


@pytest.mark.parametrize("url", ["ftp://example.com", "https://", "not a url", "https://h:0"])
def test_origin_of_refuses_what_is_not_an_http_origin(url: str) -> None:
    with pytest.raises(InvalidURL):
        origin_of(url)
