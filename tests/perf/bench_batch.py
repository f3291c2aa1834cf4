"""A batch job on the served platform. Run: `.venv/bin/python -m tests.perf.bench_batch [RECORDS]`.

10,000 records (by default) through `marketing_content_writer` with the fake Anthropic API at 1 s of latency,
submitted as a Ray job (`agentctl batch submit`), 8 Ray Data actors with 32 calls in flight each. Prints
records/s and wall time, with the ratio to the ideal wall time at that concurrency (records x 1 s / 256).
Against PostgreSQL and Redis in DATABASE_URL / REDIS_URL, else embedded ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from serve_app.cluster import LocalCluster
from serve_app.db import Database, upgrade
from serve_app.security.secrets import signing_keys
from serve_app.settings import Settings
from serve_app.store import Store
from tests.e2e.conftest import AGENTCTL
from tests.perf.bench_serve import ROOT, free_port, start
from tests.services import create_database, drop_database, servers, stop

LATENCY = 1.0
ACTORS, PER_ACTOR = 8, 32


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    found = servers()
    url = asyncio.run(create_database(found.postgres))
    root = Path(tempfile.mkdtemp(prefix="aap-batch-bench-", dir="/tmp"))
    fake_port = free_port()
    backup = dict(os.environ)
    fake = subprocess.Popen(
        [sys.executable, "-W", "ignore::RuntimeWarning", "-m", "tests.fakes.anthropic_api",
         "--port", str(fake_port), "--latency", str(LATENCY)],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    os.environ.update(
        {
            "AGENTS_RAY_PORT_OFFSET": "2000",
            "AGENTS_HTTP_PORT": "28000",
            "AGENTS_DATA_DIR": str(root / "data"),
            "DATABASE_URL": url,
            "REDIS_URL": f"{found.redis}/11",
            "ANTHROPIC_API_KEY": "bench",
            "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{fake_port}",
            "AGENTS_RATE_LIMIT_PER_KEY": "10000000",
            "AGENTS_RATE_LIMIT_PER_TENANT": "10000000",
        }
    )
    settings = Settings()
    cluster = LocalCluster(settings)
    try:
        asyncio.run(upgrade(url))

        async def admin_key() -> str:
            db = await Database(url, size=1).connect()
            try:
                store = Store(db, signing_keys(settings)[1])
                await store.create_tenant("default", "Default")
                return (await store.create_api_key("default", name="bench", role="admin"))[1]
            finally:
                await db.close()

        key = asyncio.run(admin_key())
        api, up = start(settings, cluster, {})
        print(f"platform up in {up:.1f} s")
        records = root / "in.jsonl"
        records.write_text(
            "".join(
                json.dumps({"topic": f"Record {i}", "content_type": "email"}) + "\n" for i in range(count)
            )
        )
        output = root / "out.jsonl"
        began = time.monotonic()
        done = subprocess.run(
            [AGENTCTL, "batch", "submit", "--agent", "marketing_content_writer", "--input", str(records),
             "--output", str(output), "--api", api, "--concurrency", str(ACTORS),
             "--per-actor", str(PER_ACTOR), "--wait"],
            env={**os.environ, "AGENTS_API_KEY": key}, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.monotonic() - began
        answered = len(output.read_text().splitlines()) if output.exists() else 0
        print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:])
        job_id = done.stdout.split("submitted ", 1)[1].split()[0]
        logs = subprocess.run(
            [AGENTCTL, "batch", "logs", job_id], capture_output=True, text=True, check=False
        )
        for line in logs.stdout.splitlines():
            if '"event": "progress"' in line:
                print("  " + line)
        ideal = count * LATENCY / (ACTORS * PER_ACTOR)
        print(f"{count:,} records, {answered:,} answered: wall time {wall:.1f} s (submission included)")
        print(f"  ratio {wall / ideal:.2f}x the ideal {ideal:.1f} s at {ACTORS * PER_ACTOR} calls in flight")
        print(f"records/s: {answered / wall:,.1f}")
    finally:
        cluster.stop()
        fake.terminate()
        os.environ.clear()
        os.environ.update(backup)
        asyncio.run(drop_database(found.postgres, url))
        stop(found)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
