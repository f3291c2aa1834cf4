"""The served platform for benchmarks: a local Ray on its own ports, the fake Anthropic API with a latency,
a fresh database and an admin API key. PostgreSQL and Redis from DATABASE_URL / REDIS_URL, else embedded."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from serve_app.cluster import LocalCluster
from serve_app.db import Database, upgrade
from serve_app.security.secrets import signing_keys
from serve_app.settings import Settings
from serve_app.store import Store
from tests.perf.bench_serve import fake_anthropic, start
from tests.services import create_database, drop_database, servers, stop


@dataclass(frozen=True)
class Served:
    api: str
    key: str
    root: Path
    up_seconds: float


@contextmanager
def served(latency: float) -> Iterator[Served]:
    found = servers()
    url = asyncio.run(create_database(found.postgres))
    root = Path(tempfile.mkdtemp(prefix="aap-bench-", dir="/tmp"))
    backup = dict(os.environ)
    with fake_anthropic(latency) as fake_url:
        os.environ.update(
            {
                "AGENTS_RAY_PORT_OFFSET": "2000",
                "AGENTS_HTTP_PORT": "28000",
                "AGENTS_DATA_DIR": str(root / "data"),
                "DATABASE_URL": url,
                "REDIS_URL": f"{found.redis}/11",
                "ANTHROPIC_API_KEY": "bench",
                "ANTHROPIC_BASE_URL": fake_url,
                "AGENTS_RATE_LIMIT_PER_KEY": "10000000",
                "AGENTS_RATE_LIMIT_PER_TENANT": "10000000",
            }
        )
        settings = Settings()
        cluster = LocalCluster(settings)
        try:
            asyncio.run(upgrade(url))
            key = asyncio.run(_admin_key(url, signing_keys(settings)[1]))
            api, up = start(settings, cluster, {})
            print(f"platform up in {up:.1f} s")
            yield Served(api, key, root, up)
        finally:
            cluster.stop()
            os.environ.clear()
            os.environ.update(backup)
            asyncio.run(drop_database(found.postgres, url))
            stop(found)
            shutil.rmtree(root, ignore_errors=True)


async def _admin_key(url: str, pepper: bytes) -> str:
    db = await Database(url, size=1).connect()
    try:
        store = Store(db, pepper)
        await store.create_tenant("default", "Default")
        return (await store.create_api_key("default", name="bench", role="admin"))[1]
    finally:
        await db.close()
