"""The scene page's pure modules, run in the real browser: the SSE reader and safe Markdown."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(server: Any, chromium: Any) -> Any:
    context = chromium.new_context()
    page = context.new_page()
    page.goto(server.url + "/login")  # any page of ours: same origin, same CSP
    yield page
    context.close()


READ = """async (chunks) => {
  const { readEvents } = await import("/static/js/sse.js");
  const enc = new TextEncoder();
  const stream = new ReadableStream({ start(c) { for (const x of chunks) c.enqueue(enc.encode(x)); c.close(); } });
  const out = [];
  for await (const e of readEvents(stream)) out.push(e);
  return out;
}"""


def test_sse_reader_handles_split_lines_crlf_comments_and_multiline_data(page: Any) -> None:
    chunks = [
        ": ping\n\n",
        "event: start\r", "\ndata: {\"message_id\":\"m1\"}\r\n\r\n",  # CRLF split across chunks
        "event: delta\ndata: {\"t\":\"Hel", "lo\"}\n\n",  # a line split mid-JSON
        "data: one\ndata: two\n\n",  # multi-line data, default event name
        "event: done\ndata:{\"ok\":true}\r\rtrailing without blank line",
    ]
    assert page.evaluate(READ, chunks) == [
        {"event": "start", "data": '{"message_id":"m1"}'},
        {"event": "delta", "data": '{"t":"Hello"}'},
        {"event": "message", "data": "one\ntwo"},
        {"event": "done", "data": '{"ok":true}'},
    ]


def test_sse_reader_keeps_multibyte_characters_split_across_chunks(page: Any) -> None:
    out = page.evaluate("""async () => {
      const { readEvents } = await import("/static/js/sse.js");
      const bytes = new TextEncoder().encode('event: delta\\ndata: {"t":"café ☕"}\\n\\n');
      const stream = new ReadableStream({ start(c) { for (const b of bytes) c.enqueue(new Uint8Array([b])); c.close(); } });
      const out = [];
      for await (const e of readEvents(stream)) out.push(JSON.parse(e.data).t);
      return out;
    }""")
    assert out == ["café ☕"]


RENDER = """async (text) => {
  const { renderMarkdown } = await import("/static/js/markdown.js");
  const box = document.createElement("div");
  box.append(renderMarkdown(text));
  const nodes = [...box.querySelectorAll("*")];
  return {
    html: box.innerHTML,
    tags: nodes.map((n) => n.tagName.toLowerCase()),
    attrs: nodes.flatMap((n) => [...n.attributes].map((a) => `${a.name}=${a.value}`)),
  };
}"""


@pytest.mark.parametrize("text", [
    '<img src=x onerror="window.pwned=1">',
    "<script>window.pwned=1</script>",
    '[click](javascript:window.pwned=1)',
    '<a href="javascript:window.pwned=1">x</a>',
    '![pixel](https://tracker.example/p.gif)',
    "<iframe src=https://example.com></iframe>",
    '<div style="position:fixed">overlay</div>',
])
def test_markdown_never_lets_html_or_scripts_through(page: Any, text: str) -> None:
    out = page.evaluate(RENDER, text)
    assert set(out["tags"]) <= {"p", "a", "br"}, out
    for attr in out["attrs"]:
        name, _, value = attr.partition("=")
        assert name in {"href", "target", "rel"}, out
        assert not value.lower().startswith("javascript"), out
    assert page.evaluate("window.pwned") is None


def test_markdown_renders_what_a_reply_uses(page: Any) -> None:
    html = page.evaluate(RENDER, "*The lamp turns.* **Late.**\n\n# Not a page heading\n\n- one\n- two\n\n`code` [site](https://example.com)")["html"]
    assert "<em>The lamp turns.</em>" in html and "<strong>Late.</strong>" in html
    assert "<h1" not in html and "<strong>Not a page heading</strong>" in html
    assert "<li>one</li>" in html and "<code>code</code>" in html
    assert 'href="https://example.com"' in html and 'rel="noopener noreferrer nofollow"' in html
