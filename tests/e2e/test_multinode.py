"""Two Ray nodes on this machine: a head (`agentctl`'s local cluster) and a worker joined with
`ray start --address`. The platform serves with the writer's replicas on both; the worker is killed under
load.

Both nodes share this machine's loopback, so the test runs Serve's Python proxy on the head only
(`AGENTS_HIGH_THROUGHPUT=false`, `AGENTS_PROXY_LOCATION=HeadOnly`): HAProxy's per-node ingress and the
replicas' direct ports would otherwise collide between the two nodes. Calls are anonymous
(`AGENTS_AUTH=false`): this test is about the nodes, not the credentials.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from serve_app.app import DeploymentOverride
from serve_app.cluster import LocalCluster, Ports, serve_environment
from serve_app.settings import Settings
from tests.e2e.conftest import counted, settled
from tests.perf.bench_serve import start

pytestmark = pytest.mark.timeout(300)
WRITER = "marketing_content_writer"
BRIEF = {"input": {"topic": "Two nodes", "content_type": "email"}}
HEAD, WORKER = Ports().shifted(4000), Ports().shifted(5000)


@pytest.fixture
def two_nodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    root = Path(tempfile.mkdtemp(prefix="aap-2n-", dir="/tmp"))
    for name, value in {
        "AGENTS_RAY_PORT_OFFSET": "4000",
        "AGENTS_HTTP_PORT": "48000",
        "AGENTS_DATA_DIR": str(root),
        "AGENTS_HIGH_THROUGHPUT": "false",
        "AGENTS_PROXY_LOCATION": "HeadOnly",
        "AGENTS_AUTH": "false",
        "AGENTS_RAY_NUM_CPUS": "1",
        "AGENTS_PROVIDER": "offline",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    cluster = LocalCluster(settings)
    worker: subprocess.Popen[bytes] | None = None
    try:
        state = cluster.start()
        env = {**os.environ, **serve_environment(settings, HEAD)}
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "ray"), "start", f"--address={state.gcs_address}", "--block",
             "--num-cpus=1", f"--node-manager-port={WORKER.gcs + 100}",
             f"--object-manager-port={WORKER.gcs + 101}", f"--metrics-export-port={WORKER.metrics_export}",
             f"--dashboard-agent-listen-port={WORKER.dashboard_agent}",
             f"--dashboard-agent-grpc-port={WORKER.dashboard_agent_grpc}",
             f"--runtime-env-agent-port={WORKER.runtime_env_agent}",
             f"--min-worker-port={WORKER.worker[0]}", f"--max-worker-port={WORKER.worker[1]}",
             "--resources", json.dumps({"second_node": 1})],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while "second_node" not in _status(state.gcs_address, env):
            assert time.monotonic() < deadline, "the worker node did not join"
            time.sleep(1)
        # The ingress stays on the head (a call in flight on a dying ingress gets Serve's 500); the writer's
        # replicas spread over both nodes, and the gateway calls again when one dies with the call.
        on_head = DeploymentOverride(resources={"node:__internal_head__": 0.01})
        two = DeploymentOverride(min_replicas=2, max_replicas=2)
        url, _ = start(settings, cluster, {"gateway": on_head, "marketing": two})
        yield url, worker
    finally:
        if worker is not None and worker.poll() is None:
            _kill_tree(worker.pid)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def _status(gcs: str, env: dict[str, str]) -> str:
    ray = str(Path(sys.executable).parent / "ray")
    return subprocess.run([ray, "status", f"--address={gcs}"], env=env, capture_output=True, text=True).stdout


def _kill_tree(pid: int) -> None:
    """SIGKILL a node: `ray start --block`, its raylet and every process under it."""
    parent = psutil.Process(pid)
    for proc in [*parent.children(recursive=True), parent]:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)


def replicas_by_node(worker_pid: int) -> Counter[str]:
    try:
        on_worker = {p.pid for p in psutil.Process(worker_pid).children(recursive=True)}
    except psutil.Error:
        on_worker = set()
    found: Counter[str] = Counter()
    for proc in psutil.process_iter(["cmdline"]):
        if "ServeReplica:marketing" in " ".join(proc.info["cmdline"] or []):
            found["worker" if proc.pid in on_worker else "head"] += 1
    return found


def test_losing_a_node_under_load_loses_no_accepted_call(
    two_nodes: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, worker = two_nodes
    assert replicas_by_node(worker.pid) == Counter({"head": 1, "worker": 1})
    path = f"{url}/v1/agents/{WRITER}/invoke"
    with httpx.Client(timeout=60) as http:
        for _ in range(20):
            assert http.post(path, json=BRIEF).status_code == 200
    assert (
        counted([HEAD.metrics_export, WORKER.metrics_export], {WRITER}, 20) == 20
    )  # both nodes counted, once each

    statuses: Counter[int] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=60) as http:
            while not stop.is_set():
                try:
                    statuses[http.post(path, json=BRIEF).status_code] += 1
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        for _ in range(6):
            pool.submit(load)
        time.sleep(3)
        _kill_tree(worker.pid)
        time.sleep(12)
        stop.set()
    assert failures == [] and set(statuses) == {200}, (statuses, failures[:3])
    assert sum(statuses.values()) > 50

    deadline = time.monotonic() + 90
    while replicas_by_node(worker.pid).get("head", 0) < 2:
        assert time.monotonic() < deadline, "the lost replica was not started again on the head"
        time.sleep(1)
    before = settled([HEAD.metrics_export], {WRITER})
    with httpx.Client(timeout=60) as http:
        for _ in range(10):
            assert http.post(path, json=BRIEF).status_code == 200
    assert counted([HEAD.metrics_export], {WRITER}, before + 10) == before + 10
