"""Which definition answers a call: explicit versions, the active one, a canary's share."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from agents import Catalog
from agents.errors import UnknownAgentError
from serve_app.routing import Release, ReleaseFeed, Routing, bucket, split_version
from serve_app.service import definition

AGENT = "marketing_content_writer"


def release(active: str, canary: str | None = None, percent: int = 0) -> Release:
    return Release(AGENT, "marketing", active, canary, percent, 1, "user:x", dt.datetime.now(dt.UTC))


def routing_with(catalog: Catalog, *versions: str, **route: object) -> Routing:
    base = definition(catalog.get(AGENT))
    routing = Routing()
    routing.replace([release(**route)], [{**base, "version": v} for v in versions])  # type: ignore[arg-type]
    return routing


def test_names_and_buckets() -> None:
    assert split_version("a@1.2.0") == ("a", "1.2.0") and split_version("a") == ("a", None)
    assert bucket("req-1") == bucket("req-1")
    shares = [bucket(f"req-{i}") for i in range(10_000)]
    assert min(shares) == 0 and max(shares) == 99
    assert 0.28 < sum(s < 30 for s in shares) / len(shares) < 0.32


def test_no_release_serves_the_catalogue(catalog: Catalog) -> None:
    routing = Routing()
    assert routing.pick(catalog.find, AGENT, "r") is catalog.get(AGENT)
    assert routing.pick(catalog.find, f"{AGENT}@1.0.0", "r") is catalog.get(AGENT)
    for missing in (f"{AGENT}@2.0.0", "nobody", "nobody@1.0.0"):
        with pytest.raises(UnknownAgentError):
            routing.pick(catalog.find, missing, "r")


def test_active_explicit_and_canary(catalog: Catalog) -> None:
    routing = routing_with(catalog, "1.0.0", "1.1.0", "2.0.0", active="1.1.0", canary="2.0.0", percent=25)
    assert routing.pick(catalog.find, f"{AGENT}@1.0.0", "r").version == "1.0.0"
    assert routing.shown(catalog.find, AGENT).version == "1.1.0"
    picked = [routing.pick(catalog.find, AGENT, f"req-{i}").version for i in range(2000)]
    assert set(picked) == {"1.1.0", "2.0.0"}
    assert 0.2 < picked.count("2.0.0") / len(picked) < 0.3
    assert all(
        routing.pick(catalog.find, AGENT, f"req-{i}").version
        == ("2.0.0" if bucket(f"req-{i}") < 25 else "1.1.0")
        for i in range(50)
    )


async def test_a_reload_begun_before_a_change_never_replaces_one_that_read_it(catalog: Catalog) -> None:
    base = definition(catalog.get(AGENT))
    first_read = asyncio.Event()
    let_first_finish = asyncio.Event()
    reads = 0

    async def load(db: object, category: str | None) -> tuple[list[Release], list[dict[str, object]]]:
        nonlocal reads
        reads += 1
        if reads == 1:  # reads the releases before the change, then is slow to finish
            first_read.set()
            await let_first_finish.wait()
            return [release("1.0.0")], [base]
        return [release("1.1.0")], [base, {**base, "version": "1.1.0"}]

    feed = ReleaseFeed("marketing", load)
    stale = asyncio.create_task(feed.reload(None))  # type: ignore[arg-type]
    await first_read.wait()
    fresh = asyncio.create_task(feed.reload(None))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    let_first_finish.set()
    await asyncio.gather(stale, fresh)
    assert feed.routing.pick(catalog.find, AGENT, "r").version == "1.1.0"
