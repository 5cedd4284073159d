"""Incremental server-sent-events splitter over raw bytes, with size caps.

It follows the WHATWG event-stream rules that matter for LLM APIs: lines end in LF, CRLF or CR
(a CR at the end of one network chunk may pair with an LF at the start of the next); `data:`
lines of one event are joined with "\\n"; `event:` names the event; lines starting with ":" are
comments (OpenRouter's ": OPENROUTER PROCESSING" keep-alives); `id:` and `retry:` are ignored.

Speed matters here: every streamed token passes through `feed`. Whole chunks are split with
`bytes.split` (C speed), and the per-line Python work is a couple of comparisons. A line or an
event larger than `max_event_bytes` raises `SSEError` instead of growing without bound.
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_MAX_EVENT_BYTES = 1 << 20  # 1 MiB: far above any real chunk, far below a memory problem


class SSEError(ValueError):
    """The stream broke the format or a size cap."""


class SSEEvent(NamedTuple):
    event: str  # "message" when the stream did not name it
    data: str


class SSEDecoder:
    """Feed bytes as they arrive; get complete events back.

    ```python
    decoder = SSEDecoder()
    async for chunk in response.aiter_bytes():
        for event in decoder.feed(chunk):
            ...
    for event in decoder.close():  # an unterminated last event, if any
        ...
    ```
    """

    __slots__ = ("_buf", "_data", "_event", "_max", "_size")

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._buf = b""
        self._data: list[bytes] = []
        self._event = b""
        self._size = 0
        self._max = max_event_bytes

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._buf + chunk if self._buf else chunk
        held = b""
        if b"\r" in buf:
            if buf.endswith(b"\r"):  # may be the first half of a CRLF split across chunks
                buf, held = buf[:-1], b"\r"
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        rest = lines.pop()
        if len(rest) > self._max:
            raise SSEError(f"a stream line exceeded {self._max} bytes")
        self._buf = rest + held
        return self._lines(lines) if lines else []

    def close(self) -> list[SSEEvent]:
        """End of body. Lenient: a last event without its blank line is still delivered."""
        lines = [self._buf.rstrip(b"\r")] if self._buf else []
        self._buf = b""
        events = self._lines(lines)
        if self._data:
            events.append(self._dispatch())
        return events

    def _lines(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(self._dispatch())
                else:
                    self._event = b""
                continue
            if line[0] == 58:  # ":" comment / keep-alive
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._size += len(value) + 1
                if self._size > self._max:
                    raise SSEError(f"a stream event exceeded {self._max} bytes")
                self._data.append(value)
            elif name == b"event":
                self._event = value
        return events

    def _dispatch(self) -> SSEEvent:
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        event = SSEEvent(self._event.decode("utf-8", "replace") or "message", data.decode("utf-8", "replace"))
        self._data = []
        self._event = b""
        self._size = 0
        return event
