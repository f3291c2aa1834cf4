"""Benchmark of the agent runtime. Run: `.venv/bin/python -m tests.perf.bench_runtime`.

Prints, each with a baseline measured in this same process and the ratio to it:
- catalogue load + compile of every definition (goal <= 1.0 s for 1,500 agents);
  baselines: parsing the same files with yaml-rs alone, and with PyYAML's libyaml loader;
- runner overhead per call on the offline provider, median (goal <= 200 us);
  baseline: the offline provider's own answer, without the runner's pipeline;
- guardrail scan of a 2 KB text (goal >= 5,000 texts/s on one core);
  baseline: one regular expression (e-mail) over the same text.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import statistics
import time
from pathlib import Path

import yaml
import yaml_rs

from agents import AgentRunner, Catalog
from agents.guardrails import PiiScanner
from agents.providers import Message, ModelRequest, OfflineProvider
from agents.sample import Sampler

ROOT = Path(__file__).resolve().parents[2] / "definitions"
PARAGRAPH = (
    "The quarterly review covered pipeline health, churn drivers and the onboarding backlog. "
    "Enterprise renewals closed at 94 percent, two points above plan, while mid-market slipped "
    "after the pricing change in March. Support volume rose 12 percent; most tickets concerned "
    "single sign-on and invoice exports. The team agreed to publish a migration guide, add two "
    "agents to the weekend rota and revisit discount approvals with finance before the next cycle. "
)
PII = "Contact Dana at dana.ray@acme-corp.com or +1 415 555 2671; refund card 4111 1111 1111 1111. "


def _text(size: int = 2048, pii: bool = True) -> str:
    body = (PARAGRAPH * 6)[: size - (len(PII) if pii else 0)]
    cut = len(body) // 2
    return body[:cut] + (PII if pii else "") + body[cut:]


def _best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def bench_catalog() -> Catalog:
    files = sorted(p for p in ROOT.glob("*/*.yaml"))
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parse_only = _best(lambda: [yaml_rs.loads(p.read_text(), parse_datetime=False) for p in files], 3)
    libyaml = _best(lambda: [yaml.load(p.read_text(), Loader=loader) for p in files], 1)
    catalog: list[Catalog] = []
    took = _best(lambda: catalog.append(Catalog.load(ROOT)), 3)
    print(f"catalogue load + compile: {len(catalog[0])} agents in {took:.3f} s (goal <= 1.0 s)")
    print(f"  baseline yaml-rs parse only: {parse_only:.3f} s  ratio {took / parse_only:.2f}x")
    print(f"  baseline PyYAML (libyaml) parse only: {libyaml:.3f} s  ratio {took / libyaml:.2f}x")
    return catalog[0]


def bench_runner(catalog: Catalog, calls: int = 20_000) -> None:
    provider = OfflineProvider()
    runner = AgentRunner({"offline": provider}, default_provider="offline")
    specs = list(catalog)[:50]
    inputs = [Sampler(s.input_schema)({"n": i}) for i, s in enumerate(specs)]

    async def run() -> tuple[list[float], list[float]]:
        full: list[float] = []
        bare: list[float] = []
        for i in range(calls):
            spec, document = specs[i % len(specs)], inputs[i % len(inputs)]
            start = time.perf_counter()
            await runner.invoke(spec, document)
            full.append(time.perf_counter() - start)
        for i in range(calls):
            spec, document = specs[i % len(specs)], inputs[i % len(inputs)]
            request = ModelRequest(
                agent=spec.name,
                system=spec.system_prompt,
                messages=(Message("user", json.dumps(document)),),
                input=document,
                output_schema=spec.output,
            )
            start = time.perf_counter()
            await provider.complete(request)
            bare.append(time.perf_counter() - start)
        return full, bare

    full, bare = asyncio.run(run())
    median_full, median_bare = statistics.median(full) * 1e6, statistics.median(bare) * 1e6
    p99 = statistics.quantiles(full, n=100)[98] * 1e6
    print(
        f"runner per call, offline provider: median {median_full:.0f} us, p99 {p99:.0f} us (goal <= 200 us)"
    )
    ratio = median_full / median_bare
    print(f"  baseline offline provider alone: median {median_bare:.0f} us  ratio {ratio:.2f}x")


def bench_guardrails(seconds: float = 2.0) -> None:
    scanner = PiiScanner()
    email = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
    for label, text in (("with PII", _text()), ("clean", _text(pii=False))):
        assert len(text) == 2048
        rate = _rate(lambda t=text: scanner.redact(t), seconds)
        base = _rate(lambda t=text: email.findall(t), seconds / 2)
        print(f"guardrail scan of a 2 KB text ({label}): {rate:,.0f} texts/s (goal >= 5,000)")
        print(f"  baseline one e-mail regex: {base:,.0f} texts/s  ratio {base / rate:.2f}x slower")


def _rate(fn: object, seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            fn()  # type: ignore[operator]
        count += 100
    return count / elapsed


if __name__ == "__main__":
    bench_guardrails()
    bench_runner(bench_catalog())
