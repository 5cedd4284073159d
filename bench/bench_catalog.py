"""The Cast page's catalog at 40 provider configs with 10,000 models: the requests the page really
sends, cold and warm, their bytes on the wire, and the page's first render in headless Chromium.

The page (static/js/catalog_view.js) sends two requests: "first", `GET /api/catalog?view=compact&first=3`
(rows for at most the first three open provider sections, fewer once they hold 60 models; here the
first section's 250; collapsed ones skipped) and, once that is on
screen, "rest", `?view=compact&only=<the other open sections>`. A collapsed section's rows come
from `/api/catalog/sections/{id}?view=compact` when it is opened.

1. API (in-process ASGI client: auth, database reads, merging, JSON and gzip count), every case
   interleaved round by round (rotating the order), medians:
   * first / rest, cold: with the merge cache and the curated-fact caches emptied first (as on the
     first request after a start); warm: caches kept.
   * baseline: a bare Starlette app with the same GZipMiddleware returning the same body as
     pre-encoded bytes: the floor for sending these bytes, outside our code.
   * full shape, warm: `GET /api/catalog` (one object per model; the API's default, not the page's).
   Sizes: identity and gzip bytes of each body.
2. Page: a real `rolecall serve` and headless Chromium. Each round restarts the server, loads
   /models once (cold), then in rotating order: /models warm with every section open, warm with
   35 of 40 collapsed, and the baseline: a bare uvicorn + Starlette app (same gzip) serving a page
   that fetches the same two bodies and puts one row on screen. Times are from navigation start to
   the first painted model row and to everything rendered; bytes are the catalog requests'
   transfer sizes as Chromium saw them.
Targets (issue 10): under 1 MB on the wire and first render under 200 ms at 10,000 models.

With `--baseline DIR` another checkout's `rolecall serve` runs the page cases in the same rounds (the order of
the two builds alternates), on the same data.

Run: `python bench/bench_catalog.py [--rounds 9] [--pages 7] [--baseline DIR]`
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rolecall.app import create_app
from rolecall.config import Settings
from rolecall.providers import facts
from rolecall.services import catalog
from rolecall.services.stored_config import ConfigOptions
from rolecall.storage.tables import ProviderConfig, VaultKey, utcnow
from tests.factories import e2e_record

FAMILIES = ["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-flash", "llama-3.3-70b", "mistral-large", "qwen2.5-72b",
            "deepseek-r1", "grok-3", "command-r-plus", "sonar-pro"]
ACCEPT_GZIP = {"Accept-Encoding": "gzip"}
FIRST = 3  # as static/js/catalog_view.js: provider sections whose rows come with the first request
OPTIONS = ConfigOptions(custom_base=False, endpoint_type="default", values={}, header_names=(), body={},
                        model=None).to_stored()


def models_for(config_no: int) -> list[dict[str, Any]]:
    rows = []
    for n in range(250):
        family = FAMILIES[(config_no + n) % len(FAMILIES)]
        rows.append({"id": f"vendor{config_no}/{family}-v{n}" + (":free" if n % 17 == 0 else ""),
                     "name": f"{family.title()} variant {n}", "context_window": 8192 * (1 + n % 16),
                     "max_output": None, "capabilities": ["tools"] if n % 3 else ["vision", "tools"],
                     "input_price": None, "output_price": None, "free": None, "source": "provider"})
    return rows


def empty_caches() -> None:
    """What a fresh process has: no merged lists, no curated-fact lookups."""
    catalog._MERGED.clear()
    for cached in (facts.lookup, facts.speed_tier, facts.format_context):
        cached.cache_clear()


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


async def fill(app: Any, client: httpx.AsyncClient) -> None:
    token = (await client.get("/api/csrf")).json()["csrf_token"]
    await client.post("/api/auth/signup", json={"name": "bench", "password": "benchmark password"},
                      headers={"X-CSRF-Token": token})
    account_id = (await client.get("/api/me")).json()["id"]
    record, _ = e2e_record(account_id)
    async with app.state.res.db.begin() as s:
        s.add(VaultKey(account_id=account_id, **record))
        for i in range(40):
            s.add(ProviderConfig(
                id=str(uuid.uuid4()), account_id=account_id, provider_id="openrouter", label=f"Config {i:02d}",
                privacy_mode="srv", base_url="https://openrouter.ai/api/v1", dest_origin="https://openrouter.ai",
                options=OPTIONS, status="valid", status_detail="", models=models_for(i), models_fetched_at=utcnow()))


def rest_of(first_body: bytes, collapsed: frozenset[str] = frozenset()) -> str:
    """The page's second request after ``first_body``: the open sections that came without rows."""
    sections = json.loads(first_body)["sections"]
    return ",".join(s["id"] for s in sections if s["rows"] is None and s["id"] not in collapsed)


async def measure_api(data_dir: Path, rounds: int) -> None:
    app = create_app(Settings(data_dir=data_dir))
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            await fill(app, client)
            first_url = f"/api/catalog?view=compact&first={FIRST}"
            first_body = (await client.get(first_url)).content
            rest_url = f"/api/catalog?view=compact&only={rest_of(first_body)}"
            rest_body = (await client.get(rest_url)).content
            full_body = (await client.get("/api/catalog")).content
            bodies = {"/first": first_body, "/rest": rest_body}

            async def floor(request: Any) -> Response:
                return Response(bodies[request.url.path], media_type="application/json")

            bare = Starlette(routes=[Route("/first", floor), Route("/rest", floor)],
                             middleware=[Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)])
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bare), base_url="http://bare") as plain:

                def cold(url: str) -> Any:
                    async def call() -> httpx.Response:
                        empty_caches()
                        return await client.get(url, headers=ACCEPT_GZIP)
                    return call

                cases = {
                    "first, cold": cold(first_url),
                    "first, warm": lambda: client.get(first_url, headers=ACCEPT_GZIP),
                    "first, baseline": lambda: plain.get("/first", headers=ACCEPT_GZIP),
                    "rest, cold": cold(rest_url),
                    "rest, warm": lambda: client.get(rest_url, headers=ACCEPT_GZIP),
                    "rest, baseline": lambda: plain.get("/rest", headers=ACCEPT_GZIP),
                    "full shape, warm": lambda: client.get("/api/catalog", headers=ACCEPT_GZIP),
                }
                timings: dict[str, list[float]] = {name: [] for name in cases}
                names = list(cases)
                for round_no in range(rounds):
                    for name in names[round_no % len(names):] + names[:round_no % len(names)]:
                        started = time.perf_counter()
                        response = await cases[name]()
                        timings[name].append(time.perf_counter() - started)
                        assert response.status_code == 200
    print(f"catalog: 40 configs, 10,000 models; the page's two requests (first: `first={FIRST}`, rest: `only=` the "
          f"other open sections); {rounds} interleaved rounds, medians (ratio to the bare app sending the same bytes)")
    for name, values in timings.items():
        base = statistics.median(timings[name.split(",")[0] + ", baseline"]) if name.split(",")[0] in ("first", "rest") else None
        ratio = f"({statistics.median(values) / base:5.1f}x)" if base else ""
        print(f"  {name:18s} {median_ms(values)}  {ratio}")
    for name, body in (("first", first_body), ("rest", rest_body), ("full shape", full_body)):
        print(f"  {name:10s} body {len(body) / 1e6:5.2f} MB, gzip {len(gzip.compress(body, 6)) / 1e3:6.0f} kB on the wire")


FIRST_ROW = """
window.__bench = {};
new MutationObserver((_, observer) => {
  if (document.querySelector(".model-row")) {
    observer.disconnect();
    requestAnimationFrame(() => { window.__bench.firstRow = performance.now(); });
  }
}).observe(document, {subtree: true, childList: true});
"""
# The baseline page: fetch the same two bodies from a bare app and put one row on screen.
BASELINE_PAGE = b"""<!doctype html><meta charset="utf-8"><title>baseline</title><ul id="catalog-sections"></ul>
<script type="module">
const first = await (await fetch("/first")).json();
const row = document.createElement("li"); row.className = "model-row";
row.textContent = first.sections.find((s) => s.rows && s.rows.length).rows[0][0];
document.getElementById("catalog-sections").append(row);
await (await fetch("/rest")).json();
document.getElementById("catalog-sections").dataset.state = "ready";
</script>"""
COLLECT = """() => new Promise((done) => requestAnimationFrame(() => {
    const rs = performance.getEntriesByType("resource").filter((e) => /api\\/catalog|\\/first|\\/rest/.test(e.name));
    const sum = (key) => rs.reduce((n, r) => n + r[key], 0);
    done({firstRow: window.__bench.firstRow, ready: performance.now(), wire: sum("transferSize"),
          body: sum("decodedBodySize"), count: rs.length});
}))"""


def page_sample(browser: Any, url: str, state: dict[str, Any] | None, collapsed: list[str] | None = None) -> dict[str, Any]:
    context = browser.new_context(storage_state=state)
    context.add_init_script(FIRST_ROW)
    if collapsed is not None:
        context.add_init_script(f"localStorage.setItem('rolecall-collapsed-sections', JSON.stringify({collapsed!r}))")
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => document.getElementById('catalog-sections').dataset.state === 'ready'", timeout=120_000)
    result: dict[str, Any] = page.evaluate(COLLECT)
    result["sections"] = page.eval_on_selector_all("[data-section]", "(ds) => ds.map((d) => d.dataset.section)")
    context.close()
    return result


def log_in(browser: Any, url: str) -> dict[str, Any]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url + "/login")
    page.get_by_label("Name").fill("bench")
    page.get_by_label("Password").fill("benchmark password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + "/scenes")
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


def bare_server(bodies: dict[str, bytes]) -> tuple[Any, str]:
    """The same bytes from a bare Starlette app under uvicorn (same gzip), outside our code."""
    import threading

    import uvicorn

    async def serve(request: Any) -> Response:
        if request.url.path == "/":
            return Response(BASELINE_PAGE, media_type="text/html")
        return Response(bodies[request.url.path], media_type="application/json")

    app = Starlette(routes=[Route(path, serve) for path in ("/", "/first", "/rest")],
                    middleware=[Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{port}"


def measure_page(data_dir: Path, rounds: int, baseline: Path | None = None) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, Server

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        print("  page: skipped (no Chromium)")
        return
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # PYTHONSAFEPATH: `python -m` would put the working directory (this checkout) first on sys.path,
    # ahead of PYTHONPATH, and a baseline would run this checkout's code.
    env["PYTHONSAFEPATH"] = "1"
    builds = {"": env | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}}
    if baseline is not None:  # another checkout's `rolecall serve` on the same data, in the same rounds
        builds[" (baseline)"] = env | {"PYTHONPATH": str(baseline)}
    cases = [name + tag for tag in builds for name in PAGE_CASES[:3]] + [PAGE_CASES[3]]
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    bare = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        state = None
        try:
            for round_no in range(rounds):  # each round, per build: a fresh server (cold), then the warm cases
                tags = list(builds)
                for tag in tags[round_no % len(tags):] + tags[:round_no % len(tags)]:
                    server = Server(data_dir, builds[tag])
                    try:
                        server.wait_ready()
                        state = state or log_in(browser, server.url)
                        if bare is None:
                            with httpx.Client(base_url=server.url, cookies={c["name"]: c["value"] for c in state["cookies"]}) as c:
                                first = c.get(f"/api/catalog?view=compact&first={FIRST}").content
                                rest = c.get(f"/api/catalog?view=compact&only={rest_of(first)}").content
                            bare, bare_url = bare_server({"/first": first, "/rest": rest})
                            server.stop()
                            server = Server(data_dir, builds[tag])  # still cold for the first sample
                            server.wait_ready()
                        cold = page_sample(browser, server.url + "/models", state)
                        samples["cold, all open" + tag].append(cold)
                        warm = ["warm, all open", "warm, 35 of 40 collapsed"] + ([] if tag else [PAGE_CASES[3]])
                        for name in warm[round_no % len(warm):] + warm[:round_no % len(warm)]:
                            if name.startswith("baseline"):
                                samples[name].append(page_sample(browser, bare_url + "/", None))
                            else:
                                samples[name + tag].append(page_sample(browser, server.url + "/models", state,
                                                                       cold["sections"][6:] if "collapsed" in name else None))
                    finally:
                        server.stop()
        finally:
            if bare is not None:
                bare.should_exit = True
            browser.close()
    base = statistics.median(s["firstRow"] for s in samples[PAGE_CASES[3]])
    print(f"  page /models in headless Chromium, {rounds} rounds (cold: first load after a start), medians "
          "from navigation start (first row: ratio to the baseline page fetching the same bytes):")
    for name, runs in samples.items():
        def pick(key: str, runs: list[dict[str, Any]] = runs) -> float:
            return statistics.median(s[key] for s in runs)
        print(f"    {name:43s} first row painted {pick('firstRow'):6.0f} ms ({pick('firstRow') / base:4.1f}x), "
              f"all rendered {pick('ready'):6.0f} ms; {pick('count'):.0f} catalog requests, "
              f"{pick('wire') / 1e3:5.0f} kB on the wire ({pick('body') / 1e6:4.2f} MB decoded)")


PAGE_CASES = ("cold, all open", "warm, all open", "warm, 35 of 40 collapsed", "baseline (bare app, same bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--pages", type=int, default=7, help="page rounds (a server restart each)")
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. main): its server's page cases "
                        "run in the same rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        asyncio.run(measure_api(data_dir, args.rounds))
        measure_page(data_dir, args.pages, args.baseline.resolve() if args.baseline else None)


if __name__ == "__main__":
    main()
