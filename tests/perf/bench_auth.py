"""What governance adds to one agent call. Run: `.venv/bin/python -m tests.perf.bench_auth`.

The same invoke app (the category replica's routes, offline provider) measured in one process, in turn:
without governance (the baseline), and with an API key checked, revocation and both rate limits in Redis,
the Rego policy, and the execution row and event written by the audit log. Against the PostgreSQL and
Redis in DATABASE_URL / REDIS_URL, else embedded ones. Prints p50/p99 of each and the added p50
(goal <= 1 ms), and the guard's own cost.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
from pydantic import SecretStr

from agents import AgentRunner, Catalog
from agents.providers import OfflineProvider
from serve_app.api import new_api
from serve_app.control import Control
from serve_app.db import upgrade
from serve_app.routes.invoke import invoke_router
from serve_app.service import AgentService
from serve_app.settings import Settings
from serve_app.store import Store
from tests.conftest import DEFINITIONS
from tests.services import TEST_REDIS_DB, create_database, drop_database, servers, stop

WRITER = "marketing_content_writer"
BODY = {"input": {"topic": "Spring launch", "content_type": "email"}}
CALLS = 3000


def app(catalog: Catalog, control: Control | None, settings: Settings) -> httpx.AsyncClient:
    service = AgentService(
        "marketing", AgentRunner({"offline": OfflineProvider()}, default_provider="offline"), control
    )
    agents = [s.model_dump(mode="json", by_alias=True) for s in catalog.in_category("marketing")]
    service.configure({"category": "marketing", "agents": agents})
    api = new_api("bench", settings)
    api.include_router(invoke_router(service, control))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://bench")


async def timed(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    for _ in range(200):
        await call()
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def report(label: str, samples: list[float], baseline: float | None = None) -> float:
    p50 = statistics.median(samples)
    p99 = statistics.quantiles(samples, n=100)[98]
    ratio = f"  ratio {p50 / baseline:.2f}x baseline" if baseline else ""
    print(f"{label}: p50 {p50:.3f} ms  p99 {p99:.3f} ms{ratio}")
    return p50


async def main() -> None:
    found = servers()
    url = await create_database(found.postgres)
    try:
        await upgrade(url)
        catalog = Catalog.load(DEFINITIONS)
        settings = Settings(
            env="test",
            jwt_secret=SecretStr("j" * 40),
            key_pepper=SecretStr("p" * 40),
            database_url=url,
            redis_url=f"{found.redis}/{TEST_REDIS_DB}",
            rate_limit_per_key=10**9,
            rate_limit_per_tenant=10**9,
        )
        open_settings = settings.model_copy(update={"auth": False, "database_url": None})
        async with app(catalog, None, open_settings) as bare:
            base = report(
                "invoke, no governance (baseline)",
                await timed(lambda: bare.post(f"/agents/{WRITER}/invoke", json=BODY), CALLS),
            )

        control = await Control(settings).ready()
        store = Store(control.db, b"p" * 40)
        await store.create_tenant("bench", "Bench")
        _, key = await store.create_api_key("bench", name="bench", role="developer")
        headers = {"x-api-key": key}
        async with app(catalog, control, settings) as governed:
            governed_p50 = report(
                "invoke, API key + revocation + rate limits + policy + audit",
                await timed(
                    lambda: governed.post(f"/agents/{WRITER}/invoke", json=BODY, headers=headers), CALLS
                ),
                base,
            )
        print(f"added by governance: {governed_p50 - base:.3f} ms p50 (goal <= 1 ms)")
        report(
            "  of which guard.check (credential, Redis pipeline, policy)",
            await timed(
                lambda: control.guard.check(
                    headers, "agents:invoke", {"category": "marketing", "agent": WRITER}
                ),
                CALLS,
            ),
        )
        began = time.perf_counter()
        await control.audit.flush()
        flushed = 1000 * (time.perf_counter() - began)
        print(f"  audit log wrote {control.audit.written} rows; the last flush took {flushed:.1f} ms")
        await control.close()
    finally:
        await drop_database(found.postgres, url)
        stop(found)


if __name__ == "__main__":
    asyncio.run(main())
