"""The Cast page's catalog at 40 provider configs with 10,000 models: the requests the page really
sends, cold and warm, their bytes on the wire, and the page's first render in Chromium.

1. API (in-process ASGI client: HTTP parsing, auth, database reads, merging, JSON and gzip count),
   interleaved round by round, medians:
   * page's first, cold: `GET /api/catalog?view=compact&first=4`, the page's first request (rows
     for the first screenful of sections), on an empty cache; the page then asks for the rest.
   * compact cold / warm: `GET /api/catalog?view=compact` (every section's rows), with the merge
     cache and the curated-fact caches emptied first ("cold", as on the first request after a
     start) or kept ("warm").
   * full warm: the original `GET /api/catalog` (one object per model; the API's default shape).
   * baseline: a bare Starlette app with the same GZipMiddleware returning the compact body as
     pre-encoded bytes: the floor for sending these bytes, outside our code.
   Sizes: identity and gzip bytes of each body.
2. Page: a real `rolecall serve` and headless Chromium; time from navigation start to the first
   painted model row and to the whole catalog rendered, and the catalog request's transfer size.
   "cold" is the first page load after the server starts (restarted for each sample).
Targets (issue 10): under 1 MB on the wire and first render under 200 ms at 10,000 models.

Run: `python bench/bench_catalog.py [--rounds 9] [--cold-pages 3] [--warm-pages 7]`
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import shutil
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


async def measure_api(data_dir: Path, rounds: int) -> None:
    app = create_app(Settings(data_dir=data_dir))
    async with LifespanManager(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            await fill(app, client)
            compact_body = (await client.get("/api/catalog?view=compact")).content
            full_body = (await client.get("/api/catalog")).content

            async def floor(_: Any) -> Response:
                return Response(compact_body, media_type="application/json")

            bare = Starlette(routes=[Route("/", floor)], middleware=[Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)])
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bare), base_url="http://bare") as plain:

                async def compact_cold() -> httpx.Response:
                    empty_caches()
                    return await client.get("/api/catalog?view=compact", headers=ACCEPT_GZIP)

                async def first_cold() -> httpx.Response:
                    empty_caches()
                    return await client.get("/api/catalog?view=compact&first=4", headers=ACCEPT_GZIP)

                cases = {
                    "page's first, cold": first_cold,
                    "compact cold": compact_cold,
                    "compact warm": lambda: client.get("/api/catalog?view=compact", headers=ACCEPT_GZIP),
                    "full warm": lambda: client.get("/api/catalog", headers=ACCEPT_GZIP),
                    "baseline": lambda: plain.get("/", headers=ACCEPT_GZIP),
                }
                timings: dict[str, list[float]] = {name: [] for name in cases}
                names = list(cases)
                for round_no in range(rounds):
                    for name in names[round_no % len(names):] + names[:round_no % len(names)]:
                        started = time.perf_counter()
                        response = await cases[name]()
                        timings[name].append(time.perf_counter() - started)
                        assert response.status_code == 200
    base = statistics.median(timings["baseline"])
    print(f"catalog: 40 configs, 10,000 models; {rounds} interleaved rounds, medians (ratio to baseline)")
    for name, values in timings.items():
        print(f"  {name:18s} {median_ms(values)}  ({statistics.median(values) / base:5.1f}x)")
    for name, body in (("compact", compact_body), ("full", full_body)):
        print(f"  {name:8s} body {len(body) / 1e6:5.2f} MB, gzip {len(gzip.compress(body, 6)) / 1e3:6.0f} kB on the wire")


FIRST_ROW = """
window.__bench = {};
new MutationObserver((_, observer) => {
  if (document.querySelector(".model-row")) {
    observer.disconnect();
    requestAnimationFrame(() => { window.__bench.firstRow = performance.now(); });
  }
}).observe(document, {subtree: true, childList: true});
"""


def page_sample(browser: Any, url: str, collapsed: list[str] | None = None) -> dict[str, Any]:
    context = browser.new_context()
    context.add_init_script(FIRST_ROW)
    if collapsed is not None:
        context.add_init_script(f"localStorage.setItem('rolecall-collapsed-sections', JSON.stringify({collapsed!r}))")
    page = context.new_page()
    page.goto(url + "/login")
    page.get_by_label("Name").fill("bench")
    page.get_by_label("Password").fill("benchmark password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + "/scenes")
    page.goto(url + "/models")
    page.wait_for_function("() => document.getElementById('catalog-sections').dataset.state === 'ready'", timeout=120_000)
    result = page.evaluate("""() => new Promise((done) => requestAnimationFrame(() => {
        const rs = performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/catalog"));
        const sum = (key) => rs.reduce((n, r) => n + r[key], 0);
        done({firstRow: window.__bench.firstRow, ready: performance.now(), request: rs[0].responseEnd - rs[0].startTime,
              wire: sum("transferSize"), body: sum("decodedBodySize"), count: rs.length,
              sections: [...document.querySelectorAll("[data-section]")].map((d) => d.dataset.section)});
    }))""")
    context.close()
    return result


def measure_page(data_dir: Path, cold_pages: int, warm_pages: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_ARGS, Server

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        print("  page: skipped (no Chromium)")
        return
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    cold: list[dict[str, Any]] = []
    warm: list[dict[str, Any]] = []
    lazy: list[dict[str, Any]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        for attempt in range(cold_pages):
            server = Server(data_dir, env)
            try:
                server.wait_ready()
                cold.append(page_sample(browser, server.url))
                if attempt == cold_pages - 1:
                    sections = cold[-1]["sections"]
                    for _ in range(warm_pages):  # the same server, caches warm; all open, then 35 of 40 collapsed
                        warm.append(page_sample(browser, server.url))
                        lazy.append(page_sample(browser, server.url, collapsed=sections[6:]))
            finally:
                server.stop()
        browser.close()
    print(f"  page /models in Chromium, medians (cold: first load after a start, n={len(cold)}; warm n={len(warm)}):")
    for name, samples in (("cold, all open", cold), ("warm, all open", warm), ("warm, 35 of 40 collapsed", lazy)):
        def pick(key: str, samples: list[dict[str, Any]] = samples) -> float:
            return statistics.median(s[key] for s in samples)
        print(f"    {name:25s} first row painted {pick('firstRow'):6.0f} ms, all rendered {pick('ready'):6.0f} ms "
              f"after navigation start; first catalog request {pick('request'):5.0f} ms; "
              f"{pick('count'):.0f} catalog requests, {pick('wire') / 1e3:5.0f} kB on the wire "
              f"({pick('body') / 1e6:4.2f} MB decoded)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--cold-pages", type=int, default=3)
    parser.add_argument("--warm-pages", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        asyncio.run(measure_api(data_dir, args.rounds))
        measure_page(data_dir, args.cold_pages, args.warm_pages)


if __name__ == "__main__":
    main()
