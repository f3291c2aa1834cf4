"""Workflow runs on the served platform. Run: `.venv/bin/python -m tests.perf.bench_workflows`.

Every agent call goes to the fake Anthropic API with 1 s of latency, through the category deployments, so a
step takes about 1 s. Against PostgreSQL and Redis in DATABASE_URL / REDIS_URL, else embedded ones.
- a diamond (A -> B || C -> D): goal within the critical path (3 s) + 150 ms;
- a 10-wide fan-out (one for_each step over 10 items): goal within one step (1 s) + 300 ms;
- 100 concurrent 3-step chains: wall time and p95 per run (goal p95 < 10 s).
Each figure is printed with its ratio to its baseline: the sum of the model latencies on its critical path.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

from tests.integration.test_workflow_engine import DIAMOND
from tests.perf.served import served

LATENCY = 1.0
FAN_OUT: dict[str, Any] = {
    "id": "fan_out",
    "description": "Edit ten texts at once.",
    "input_schema": {
        "type": "object",
        "properties": {"texts": {"type": "array", "items": {"type": "string"}}},
        "required": ["texts"],
    },
    "steps": [
        {
            "id": "edit",
            "agent": "comms_ap_style_editor",
            "for_each": {"items": "${{ input.texts }}", "as": "text", "max_concurrency": 10},
            "input": {"text": "${{ text }}"},
        }
    ],
}
CHAIN: dict[str, Any] = {
    "id": "chain",
    "description": "Three edits in a row.",
    "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    "steps": [
        {"id": "one", "agent": "comms_ap_style_editor", "input": {"text": "${{ input.text }}"}},
        {
            "id": "two",
            "agent": "comms_ap_style_editor",
            "input": {"text": "${{ steps.one.output.edited_text }}"},
        },
        {
            "id": "three",
            "agent": "comms_ap_style_editor",
            "input": {"text": "${{ steps.two.output.edited_text }}"},
        },
    ],
}


def seconds(run: dict[str, Any]) -> float:
    from datetime import datetime

    return (
        datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["created_at"])
    ).total_seconds()


def report(label: str, value: float, goal: str, baseline: float) -> None:
    print(f"{label}: {value:.2f} s ({goal})  ratio {value / baseline:.2f}x baseline ({baseline:.2f} s)")


async def run(http: httpx.AsyncClient, workflow: str, data: dict[str, Any]) -> dict[str, Any]:
    answer = await http.post(f"/v1/workflows/{workflow}/runs?wait=true&timeout=300", json={"input": data})
    body: dict[str, Any] = answer.json()
    assert answer.status_code == 200 and body["status"] == "succeeded", body
    return body


async def measure(url: str, key: str) -> None:
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(
        base_url=url, headers={"x-api-key": key}, timeout=300, limits=limits
    ) as http:
        for document in (DIAMOND, FAN_OUT, CHAIN):
            stored = await http.post("/v1/workflows", json=document)
            assert stored.status_code == 201, stored.text
        await run(http, "chain", {"text": "warm up"})
        diamond = [seconds(await run(http, "diamond", {"text": "Hello"})) for _ in range(3)]
        report(
            "diamond A -> B || C -> D, median of 3", statistics.median(diamond), "goal <= 3.15 s", 3 * LATENCY
        )
        texts = [f"text {i}" for i in range(10)]
        fan = [seconds(await run(http, "fan_out", {"texts": texts})) for _ in range(3)]
        report("10-wide fan-out, median of 3", statistics.median(fan), "goal <= 1.30 s", LATENCY)
        began = time.monotonic()
        runs = await asyncio.gather(*(run(http, "chain", {"text": f"run {i}"}) for i in range(100)))
        wall = time.monotonic() - began
        per_run = sorted(seconds(r) for r in runs)
        report("100 concurrent 3-step runs, wall time", wall, "reported", 3 * LATENCY)
        p95 = statistics.quantiles(per_run, n=100)[94]
        report("  p95 per run", p95, "goal < 10 s", 3 * LATENCY)
        print(f"  p50 per run {statistics.median(per_run):.2f} s  max {per_run[-1]:.2f} s")


def main() -> None:
    with served(LATENCY) as platform:
        asyncio.run(measure(platform.api, platform.key))


if __name__ == "__main__":
    main()
