"""Scripts, styles and the logo as a browser gets them: compressed, revalidated, with the security headers."""

from __future__ import annotations

from pathlib import Path

import httpx

STATIC = Path(__file__).resolve().parents[2] / "rolecall/web/static"


async def test_a_script_is_sent_whole_compressed_and_revalidated(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/js/catalog_view.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip" and response.headers["vary"] == "Accept-Encoding"
    assert response.content == (STATIC / "js/catalog_view.js").read_bytes()  # httpx undid the gzip
    assert response.headers["content-type"].startswith("text/javascript")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers  # the same answer for everyone

    again = await client.get("/static/js/catalog_view.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    plain = await client.get("/static/js/catalog_view.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == response.content
    assert int(plain.headers["content-length"]) == len(plain.content)


async def test_head_and_other_methods(client: httpx.AsyncClient) -> None:
    head = await client.head("/static/css/app.css", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == (STATIC / "css/app.css").stat().st_size
    assert (await client.post("/static/css/app.css")).status_code in (403, 405)


async def test_unknown_files_still_get_the_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/js/no-such-file.js")
    assert response.status_code == 404 and "Nothing is here." in response.text
