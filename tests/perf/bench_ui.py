"""The web UI in headless Chromium. Run: `.venv/bin/python -m tests.perf.bench_ui`.

On a platform started for the run (tests/perf/served.py), signed in as a user:
- the marketplace's first view of all 1,500 agents (a reload: modules, session renewal, the catalogue
  in pages of 200), against the baseline of fetching the same pages over HTTP with no browser;
- search as you type: for each prefix of a few queries, the input handler's filtering and DOM update, and
  the time until the next frame shows it, against the baseline of one server-side search round trip for
  the same prefix (`GET /v1/agents?q=...&limit=60`), which a page that asked the server would pay
  before drawing anything.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
from playwright.sync_api import Page, expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, sign_in
from tests.perf.served import served

PASSWORD = "bench password 123"
QUERIES = ("content writer", "invoice reconciliation", "churn risk", "contract")
LOADS = 5


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def fetch_catalogue(api: str, key: str) -> float:
    async with httpx.AsyncClient(base_url=api, headers={"x-api-key": key}, timeout=30) as http:
        started = time.perf_counter()
        first = (await http.get("/v1/agents", params={"limit": 200})).json()
        offsets = range(200, first["total"], 200)
        await asyncio.gather(*(http.get("/v1/agents", params={"limit": 200, "offset": o}) for o in offsets))
        return time.perf_counter() - started


def server_searches(api: str, key: str) -> list[float]:
    took = []
    with httpx.Client(base_url=api, headers={"x-api-key": key}, timeout=30) as http:
        for query in QUERIES:
            for end in range(1, len(query) + 1):
                started = time.perf_counter()
                http.get("/v1/agents", params={"q": query[:end], "limit": 60}).raise_for_status()
                took.append(time.perf_counter() - started)
    return took


# The input handler filters and updates the DOM synchronously; the frame after it shows the result.
KEYSTROKE = """async (text) => {
  const input = document.getElementById("agent-search");
  const started = performance.now();
  input.value = text;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  const handled = performance.now();
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  return [handled - started, performance.now() - started];
}"""


def ui_keystrokes(page: Page) -> tuple[list[float], list[float]]:
    handled, drawn = [], []
    for query in QUERIES:
        for end in range(1, len(query) + 1):
            update, frame = page.evaluate(KEYSTROKE, query[:end])
            handled.append(update / 1000)
            drawn.append(frame / 1000)
        page.evaluate(KEYSTROKE, "")
    return handled, drawn


def main() -> None:
    with served(latency=0.0) as platform:
        with httpx.Client(base_url=platform.api, headers={"x-api-key": platform.key}) as http:
            http.post(
                "/v1/users", json={"email": "bench@example.com", "password": PASSWORD, "role": "developer"}
            ).raise_for_status()
        api_loads = [asyncio.run(fetch_catalogue(platform.api, platform.key)) for _ in range(LOADS)]
        searches = server_searches(platform.api, platform.key)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            sign_in(page, platform.api, "bench@example.com", PASSWORD)
            loads = []
            for _ in range(LOADS):
                page.goto(f"{platform.api}/ui/#/agents")
                started = time.perf_counter()
                page.reload()
                expect(page.locator(".market-count")).to_have_text(
                    "1,500 agents in 29 categories", timeout=60_000
                )
                loads.append(time.perf_counter() - started)
            handled, drawn = ui_keystrokes(page)
            browser.close()
    ui_load, api_load = median_ms(loads), median_ms(api_loads)
    update, frame, server = median_ms(handled), median_ms(drawn), median_ms(searches)
    print(f"marketplace, all 1,500 agents shown: p50 {ui_load:.0f} ms over {LOADS} reloads")
    print(f"  baseline, the same pages over HTTP: p50 {api_load:.0f} ms   ratio {ui_load / api_load:.2f}x")
    print(
        f"search as you type over {len(handled)} keystrokes: filter and DOM update p50 {update:.1f} ms"
        f" (max {max(handled) * 1000:.1f} ms), drawn by the next frame p50 {frame:.1f} ms"
    )
    print(
        f"  baseline, one server search round trip (before any drawing): p50 {server:.1f} ms"
        f"   ratio {update / server:.2f}x"
    )


if __name__ == "__main__":
    main()
