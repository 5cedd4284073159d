"""The SSE splitter, byte by byte: no transport involved."""

from __future__ import annotations

import pytest

from rolecall.providers.sse import SSEDecoder, SSEError, SSEEvent

STREAM = (
    b": OPENROUTER PROCESSING\n\n"
    b"data: {\"a\": 1}\n\n"
    b"event: content_block_delta\ndata: {\"b\": 2}\n\n"
    b"data: line one\ndata: line two\n\n"
    b"id: 7\nretry: 1000\ndata:no-space\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent("message", '{"a": 1}'),
    SSEEvent("content_block_delta", '{"b": 2}'),
    SSEEvent("message", "line one\nline two"),
    SSEEvent("message", "no-space"),
    SSEEvent("message", "[DONE]"),
]


def _decode(chunks: list[bytes], **kwargs: int) -> list[SSEEvent]:
    decoder = SSEDecoder(**kwargs)
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events + decoder.close()


def test_whole_stream() -> None:
    assert _decode([STREAM]) == EXPECTED


def test_every_split_point_gives_the_same_events() -> None:
    for i in range(len(STREAM)):
        assert _decode([STREAM[:i], STREAM[i:]]) == EXPECTED, i


def test_one_byte_at_a_time() -> None:
    assert _decode([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


@pytest.mark.parametrize("eol", [b"\r\n", b"\r"])
def test_crlf_and_cr_line_endings_even_split_between_chunks(eol: bytes) -> None:
    stream = STREAM.replace(b"\n", eol)
    assert _decode([stream]) == EXPECTED
    for i in range(len(stream)):
        assert _decode([stream[:i], stream[i:]]) == EXPECTED, i


def test_event_name_resets_after_each_event() -> None:
    assert _decode([b"event: ping\n\n", b"data: x\n\n"]) == [SSEEvent("message", "x")]


def test_unterminated_last_event_is_delivered_on_close() -> None:
    assert _decode([b'data: {"last": true}']) == [SSEEvent("message", '{"last": true}')]


def test_utf8_split_inside_a_character() -> None:
    data = "data: héllo ✓\n\n".encode()
    assert _decode([data[:9], data[9:]]) == [SSEEvent("message", "héllo ✓")]


def test_a_line_without_end_past_the_cap_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    with pytest.raises(SSEError):
        decoder.feed(b"data: " + b"x" * 2048)


def test_an_event_of_many_lines_past_the_cap_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    with pytest.raises(SSEError):
        for _ in range(100):
            decoder.feed(b"data: " + b"x" * 100 + b"\n")
