"""Benchmark of the served platform. Run: `.venv/bin/python -m tests.perf.bench_serve` (needs `wrk`).

Prints each figure with its ratio to a baseline measured in this same run: the same invoke logic
(the FastAPI app a category replica serves, with the runner) on bare uvicorn, one process.
- invoke throughput and p50/p99 at 32 connections, direct path and through the gateway
  (goal >= 1,000 req/s and >= 0.35 x bare uvicorn);
- time from `agentctl up` to ready (goal <= 20 s) and PSS of the whole platform (goal <= 2 GB);
- first response of a category scaled to zero (goal <= 3 s);
- 1,000 concurrent invocations against the fake Anthropic API with 1 s latency (goal <= 2.0 s, none lost),
  against a second baseline: the same 1,000 calls made by the runner in this process, without Serve.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psutil

from agents import Catalog
from serve_app.app import DeploymentOverride, application_specs
from serve_app.cluster import LocalCluster
from serve_app.deploy import run_applications, wait_for_http, wait_until_running
from serve_app.runtime import build_runner
from serve_app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
WRITER = "marketing_content_writer"
BODY = '{"input":{"topic":"Spring launch","content_type":"email"}}'
LUA = f'wrk.method = "POST"\nwrk.body = \'{BODY}\'\nwrk.headers["Content-Type"] = "application/json"\n'
BARE_APP = """
from agents import AgentRunner, Catalog
from agents.providers import OfflineProvider
from serve_app.api import new_api
from serve_app.routes.invoke import invoke_router
from serve_app.service import AgentService
from serve_app.settings import Settings

catalog = Catalog.load({root!r} + "/definitions")
service = AgentService("marketing", AgentRunner({{"offline": OfflineProvider()}}, default_provider="offline"))
service.configure({{"category": "marketing", "agents": [s.model_dump(mode="json", by_alias=True)
                   for s in catalog.in_category("marketing")]}})
app = new_api("bare", Settings())
app.include_router(invoke_router(service))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, seconds: int = 10, connections: int = 32) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        return float(m[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m[2]]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rps, out
    return {
        "rps": float(rps[1]),
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": float(errors[1]) if errors else 0.0,
    }


def bare_uvicorn() -> dict[str, float]:
    port = free_port()
    code = BARE_APP.format(root=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bare_app.py").write_text(code)
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--log-level", "warning"],
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": f"{tmp}:{ROOT}"},
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/docs", timeout=30)
            wrk(f"http://127.0.0.1:{port}/agents/{WRITER}/invoke", seconds=2)
            return wrk(f"http://127.0.0.1:{port}/agents/{WRITER}/invoke")
        finally:
            proc.terminate()
            proc.wait()


def pss_bytes(cluster: LocalCluster) -> int:
    total = 0
    for proc in cluster._processes():
        with suppress(psutil.Error):
            total += proc.memory_full_info().pss
    return total


def start(
    settings: Settings, cluster: LocalCluster, overrides: dict[str, DeploymentOverride]
) -> tuple[str, float]:
    began = time.monotonic()
    state = cluster.start()
    catalog = Catalog.load(settings.definitions_dir)
    specs = application_specs(catalog, settings, overrides)
    run_applications(state.gcs_address, specs, settings)
    wait_until_running(state.dashboard_url, [s.name for s in specs])
    expected = specs[0].digest
    wait_for_http(f"{state.api_url}/healthz", expect=lambda r: r.json().get("digest") == expected)
    return state.api_url, time.monotonic() - began


async def _one(host: str, port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = re.search(rb"(?i)content-length:\s*(\d+)", head)
        if length:
            await reader.readexactly(int(length[1]))
        else:
            await reader.read()
        return status
    finally:
        writer.close()


async def burst(url: str, count: int) -> tuple[float, dict[int, int]]:
    """`count` calls at once, each on its own connection, from a client light enough not to be the limit
    (an httpx client with a thousand connections spends a whole core on its pool)."""
    target = httpx.URL(url)
    host, port = target.host, target.port or 80
    body = BODY.encode()
    request = (
        f"POST {target.raw_path.decode()} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    began = time.monotonic()
    results = await asyncio.gather(*(_one(host, port, request) for _ in range(count)), return_exceptions=True)
    took = time.monotonic() - began
    statuses: dict[int, int] = {}
    for r in results:
        code = r if isinstance(r, int) else -1
        statuses[code] = statuses.get(code, 0) + 1
    return took, statuses


async def in_process(count: int) -> tuple[float, int]:
    """The same calls through the runner and the SDK in this process: what any client of the model pays."""
    runner = build_runner(Settings())
    spec = Catalog.load(ROOT / "definitions").get(WRITER)
    payload = {"topic": "Spring launch", "content_type": "email"}
    await asyncio.gather(*(runner.invoke(spec, payload) for _ in range(50)))
    began = time.monotonic()
    results = await asyncio.gather(
        *(runner.invoke(spec, payload) for _ in range(count)), return_exceptions=True
    )
    took = time.monotonic() - began
    await runner.aclose()
    return took, sum(isinstance(r, BaseException) for r in results)


def report(label: str, value: float, unit: str, goal: str, baseline: float | None = None) -> None:
    ratio = f"  ratio {value / baseline:.2f}x baseline" if baseline else ""
    print(f"{label}: {value:,.2f} {unit} ({goal}){ratio}")


@contextmanager
def fake_anthropic(latency: float) -> Iterator[str]:
    """The fake Messages API (tests/fakes) on a free port with `latency` seconds per answer: its URL."""
    port = free_port()
    fake = subprocess.Popen(
        [sys.executable, "-W", "ignore::RuntimeWarning", "-m", "tests.fakes.anthropic_api",
         "--port", str(port), "--latency", str(latency)],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/_fake/config", timeout=30)
        yield url
    finally:
        fake.terminate()


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")
    base = bare_uvicorn()
    report("bare uvicorn, same invoke logic", base["rps"], "req/s", "baseline")
    print(f"  p50 {base['p50']:.1f} ms  p99 {base['p99']:.1f} ms")

    root = Path(tempfile.mkdtemp(prefix="aap-bench-", dir="/tmp"))
    env_backup = dict(os.environ)
    os.environ.update(
        {"AGENTS_RAY_PORT_OFFSET": "2000", "AGENTS_HTTP_PORT": "28000", "AGENTS_DATA_DIR": str(root)}
    )
    try:
        settings = Settings()
        cluster = LocalCluster(settings)
        url, up = start(settings, cluster, {})
        report("agentctl up to ready (offline provider)", up, "s", "goal <= 20 s")
        cold = time.monotonic()
        httpx.post(
            f"{url}/v1/agents/{WRITER}/invoke",
            content=BODY,
            headers={"content-type": "application/json"},
            timeout=60,
        )
        report(
            "first response of a category scaled to zero (via gateway)",
            time.monotonic() - cold,
            "s",
            "goal <= 3 s",
        )
        cold = time.monotonic()
        httpx.post(
            f"{url}/v1/categories/legal/agents/legal_nda_reviewer/invoke", json={"input": {}}, timeout=60
        )
        report(
            "first response of a category scaled to zero (direct path)",
            time.monotonic() - cold,
            "s",
            "goal <= 3 s",
        )
        for label, path in (
            ("direct", f"/v1/categories/marketing/agents/{WRITER}/invoke"),
            ("gateway", f"/v1/agents/{WRITER}/invoke"),
        ):
            wrk(url + path, seconds=2)
            got = wrk(url + path)
            report(
                f"invoke, offline, 32 connections, {label} path",
                got["rps"],
                "req/s",
                "goal >= 1,000 and >= 0.35x",
                base["rps"],
            )
            print(f"  p50 {got['p50']:.1f} ms  p99 {got['p99']:.1f} ms  non-2xx {got['errors']:.0f}")
        report("PSS of the whole platform", pss_bytes(cluster) / 2**30, "GiB", "goal <= 2 GB")
        cluster.stop()

        with fake_anthropic(1.0) as fake:
            os.environ.update({"ANTHROPIC_API_KEY": "bench", "ANTHROPIC_BASE_URL": fake})
            try:
                floor, failed = asyncio.run(in_process(1000))
                report(
                    "1,000 concurrent invocations, fake Anthropic at 1 s, runner in one process",
                    floor,
                    "s",
                    "baseline",
                )
                print(f"  failed {failed}")
                settings = Settings()
                cluster = LocalCluster(settings)
                # Warm replicas, one per core, that take the whole burst: none starts in the middle of it.
                two = DeploymentOverride(
                    min_replicas=2, max_replicas=2, max_ongoing_requests=2000, target_ongoing_requests=2000
                )
                url, _ = start(settings, cluster, {"marketing": two, "gateway": two})
                direct = f"{url}/v1/categories/marketing/agents/{WRITER}/invoke"
                asyncio.run(burst(direct, 50))
                for label, target in (("direct", direct), ("gateway", f"{url}/v1/agents/{WRITER}/invoke")):
                    took, statuses = asyncio.run(burst(target, 1000))
                    report(
                        f"1,000 concurrent invocations, fake Anthropic at 1 s, {label} path",
                        took,
                        "s",
                        "goal <= 2.0 s",
                        floor,
                    )
                    print(f"  statuses {statuses}")
            finally:
                cluster.stop()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
