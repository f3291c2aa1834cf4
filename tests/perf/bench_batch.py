"""A batch job on the served platform. Run: `.venv/bin/python -m tests.perf.bench_batch [RECORDS]`.

10,000 records (by default) through `marketing_content_writer` with the fake Anthropic API at 1 s of latency,
submitted as a Ray job (`agentctl batch submit`), 8 Ray Data actors with 32 calls in flight each. Prints
records/s and wall time, with the ratio to the ideal wall time at that concurrency (records x 1 s / 256).
Against PostgreSQL and Redis in DATABASE_URL / REDIS_URL, else embedded ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from tests.e2e.conftest import AGENTCTL
from tests.perf.served import served

LATENCY = 1.0
ACTORS, PER_ACTOR = 8, 32


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with served(LATENCY) as platform:
        records = platform.root / "in.jsonl"
        records.write_text(
            "".join(
                json.dumps({"topic": f"Record {i}", "content_type": "email"}) + "\n" for i in range(count)
            )
        )
        output = platform.root / "out.jsonl"
        began = time.monotonic()
        done = subprocess.run(
            [AGENTCTL, "batch", "submit", "--agent", "marketing_content_writer", "--input", str(records),
             "--output", str(output), "--api", platform.api, "--concurrency", str(ACTORS),
             "--per-actor", str(PER_ACTOR), "--wait"],
            env={**os.environ, "AGENTS_API_KEY": platform.key}, capture_output=True, text=True, check=False,
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


if __name__ == "__main__":
    main()
