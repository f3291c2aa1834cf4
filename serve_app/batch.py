"""A batch of agent calls or workflow runs, as a Ray job: `python -m serve_app.batch --agent NAME --input
in.jsonl --output out.jsonl --api URL` (submitted by `agentctl batch submit`).

Every line of the input is one record (a JSON object: the agent's or the workflow's input). Records go
through the platform's API (so the key's policy, rate limits, guardrails and audit apply) from Ray Data
actors, `concurrency` actors with `per_actor` calls in flight each, with retries on 429/5xx. Each result is
appended to the output (`{"index", "output"}`) or to the errors file (`{"index", "error"}`) as it arrives;
a rerun skips the indexes already in either file, so nothing is lost or done twice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

RETRYABLE = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Job:
    target: str  # agent name or workflow id
    kind: str  # "agent" or "workflow"
    input: Path
    output: Path
    errors: Path
    api: str
    concurrency: int = 4
    per_actor: int = 16
    retries: int = 3

    invoke_path: str = ""  # an agent's direct path (its category's replicas, no gateway hop)

    def path(self) -> str:
        if self.kind == "workflow":
            return f"/v1/workflows/{self.target}/runs?wait=true&timeout=600"
        return self.invoke_path or f"/v1/agents/{self.target}/invoke"


def done_indexes(*files: Path) -> set[int]:
    """Indexes already answered: a rerun skips them. A torn last line (a crash mid-write) is ignored."""
    done: set[int] = set()
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            try:
                done.add(int(json.loads(line)["index"]))
            except (ValueError, KeyError, TypeError):
                continue
    return done


def pending(job: Job, done: set[int] | None = None) -> Iterator[dict[str, Any]]:
    """Records still to do, with their line index; a line that is not a JSON object is an error at once.
    `done`: the indexes already answered (read from the job's files when not given)."""
    done = done_indexes(job.output, job.errors) if done is None else done
    with job.input.open() as lines:
        for index, line in enumerate(lines):
            if index in done or not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                record = {"__invalid__": f"line {index + 1} is not JSON: {exc.msg}"}
            if not isinstance(record, dict):
                record = {"__invalid__": f"line {index + 1} is not a JSON object"}
            yield {"index": index, "record": json.dumps(record)}


class Caller:
    """A Ray Data actor: calls the API for a batch of records, `per_actor` at once, with retries."""

    def __init__(self, job: Job, key: str) -> None:
        self.job = job
        self.key = key

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        return asyncio.run(self._batch(batch))

    async def _batch(self, batch: dict[str, Any]) -> dict[str, Any]:
        import httpx

        limits = httpx.Limits(max_connections=self.job.per_actor)
        headers = {"x-api-key": self.key}
        async with httpx.AsyncClient(
            base_url=self.job.api, headers=headers, timeout=700, limits=limits
        ) as http:
            results = await asyncio.gather(*(self._one(http, json.loads(r)) for r in batch["record"]))
        return {"index": list(batch["index"]), "result": [json.dumps(r) for r in results]}

    async def _one(self, http: Any, record: dict[str, Any]) -> dict[str, Any]:
        if "__invalid__" in record:
            return {"error": {"type": "invalid_record", "message": record["__invalid__"]}}
        for attempt in range(1, self.job.retries + 2):
            hint: float | None = None
            try:
                answer = await http.post(self.job.path(), json={"input": record})
                status, body = answer.status_code, answer.json()
                hint = _seconds(answer.headers.get("retry-after"))
            except Exception as exc:  # connection errors and non-JSON answers are retried
                status, body = 599, {"error": {"type": "transport_error", "message": str(exc)}}
            if status < 400 and not (self.job.kind == "workflow" and body.get("status") != "succeeded"):
                return {"output": body.get("output"), "request_id": body.get("request_id") or body.get("id")}
            if status not in RETRYABLE or attempt > self.job.retries:
                error = body.get("error") if isinstance(body, dict) else None
                return {
                    "error": {"status": status, **(error if isinstance(error, dict) else {"detail": body})}
                }
            await asyncio.sleep(_backoff(hint, attempt))
        raise AssertionError("unreachable")


def _seconds(value: str | None) -> float | None:
    try:
        return min(60.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _backoff(hint: float | None, attempt: int) -> float:
    return hint if hint is not None else min(30.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)


def run(job: Job, key: str) -> dict[str, int]:
    """Run the job on the current Ray cluster; returns the counts, which add up to the input's lines."""
    import ray

    answered = done_indexes(job.output, job.errors)
    todo = list(pending(job, answered))
    already = len(answered)
    counts = {"total": already + len(todo), "succeeded": 0, "failed": 0, "skipped": already}
    print(json.dumps({"event": "start", **counts}), flush=True)
    if todo:
        # Blocks of at least one batch each: a batch never spans blocks, so small blocks cap calls in flight.
        blocks = max(1, len(todo) // job.per_actor)
        dataset = ray.data.from_items(todo, override_num_blocks=blocks).map_batches(
            Caller,
            fn_constructor_args=(job, key),
            batch_size=job.per_actor,
            concurrency=job.concurrency,
            num_cpus=0.05,
        )
        began = last = time.monotonic()
        with job.output.open("a") as out, job.errors.open("a") as err:
            for row in dataset.iter_rows():
                result = json.loads(row["result"])
                line = {"index": int(row["index"]), **result}
                target = out if "output" in result else err
                target.write(json.dumps(line) + "\n")
                target.flush()
                counts["succeeded" if "output" in result else "failed"] += 1
                if time.monotonic() - last >= 2:
                    last = time.monotonic()
                    done = counts["succeeded"] + counts["failed"]
                    rate = done / (last - began)
                    print(
                        json.dumps({"event": "progress", **counts, "per_second": round(rate, 1)}), flush=True
                    )
    print(json.dumps({"event": "done", **counts}), flush=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve_app.batch", description=__doc__)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--agent")
    target.add_argument("--workflow")
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--errors", type=Path)
    parser.add_argument("--api", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--per-actor", type=int, default=16)
    parser.add_argument("--retries", type=int, default=3)
    args = parser.parse_args(argv)
    key = os.environ.get("AGENTS_API_KEY")
    if not key:
        print("AGENTS_API_KEY must be set", file=sys.stderr)
        return 2
    job = Job(
        target=args.agent or args.workflow,
        kind="agent" if args.agent else "workflow",
        input=args.input,
        output=args.output,
        errors=args.errors or args.output.with_suffix(".errors.jsonl"),
        api=args.api.rstrip("/"),
        concurrency=max(1, args.concurrency),
        per_actor=max(1, args.per_actor),
        retries=max(0, args.retries),
    )
    import ray

    if job.kind == "agent":
        import httpx

        found = httpx.get(f"{job.api}/v1/agents/{job.target}", headers={"x-api-key": key}, timeout=30)
        if found.status_code != 200:
            print(f"{job.target}: {found.status_code} {found.text[:300]}", file=sys.stderr)
            return 2
        job = replace(job, invoke_path=found.json()["invoke_path"])
    ray.init(log_to_driver=False)
    counts = run(job, key)
    return 0 if counts["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
