"""A local Ray head for `agentctl up`: started with `ray start`, stopped by its own processes only.

Every port the head and Serve use is named here, so that two clusters (a developer's and a test's)
can run side by side; none of them is 6379, where a Redis may already listen.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from contextlib import suppress
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import psutil

from serve_app.settings import Settings

STATE_FILE = "cluster.json"
MARKER = "AGENTS_RAY_CLUSTER"  # set in the environment of `ray start`, inherited by every Ray process


@dataclass(frozen=True)
class Ports:
    gcs: int = 6380
    dashboard: int = 8265
    client_server: int = 10001
    dashboard_agent: int = 52365
    dashboard_agent_grpc: int = 52366
    runtime_env_agent: int = 52367
    metrics_export: int = 52368
    fallback_proxy: int = 8500
    fallback_grpc: int = 8501
    haproxy_stats: int = 8404
    haproxy_metrics: int = 9101
    direct_ingress_http: tuple[int, int] = (30000, 30499)
    direct_ingress_grpc: tuple[int, int] = (40000, 40499)
    worker: tuple[int, int] = (20000, 28999)

    def shifted(self, offset: int) -> Ports:
        """Every port moved by `offset` (1000 keeps the ranges of two clusters apart)."""

        def move(value: int | tuple[int, int]) -> int | tuple[int, int]:
            return (value[0] + offset, value[1] + offset) if isinstance(value, tuple) else value + offset

        moved: dict[str, Any] = {f.name: move(getattr(self, f.name)) for f in fields(self)}
        return replace(self, **moved)


@dataclass(frozen=True)
class ClusterState:
    temp_dir: str
    dashboard_url: str
    api_url: str
    gcs_address: str
    ports: dict[str, object] = field(default_factory=dict)


def auth_mode() -> str:
    return os.environ.get("RAY_AUTH_MODE", "disabled")


def serve_environment(settings: Settings, ports: Ports) -> dict[str, str]:
    """Variables that must be set before `ray start`, so that every Ray process sees them."""
    env = {
        "RAY_USAGE_STATS_ENABLED": "0",
        # Explicit, so that a token left in ~/.ray by another local Ray does not switch this one to token
        # mode behind the back of its own clients; RAY_AUTH_MODE=token in the environment turns it on.
        "RAY_AUTH_MODE": auth_mode(),
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(ports.fallback_proxy),
        "RAY_SERVE_FALLBACK_PROXY_GRPC_PORT": str(ports.fallback_grpc),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(ports.haproxy_stats),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(ports.haproxy_metrics),
        "RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT": str(ports.direct_ingress_http[0]),
        "RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT": str(ports.direct_ingress_http[1]),
        "RAY_SERVE_DIRECT_INGRESS_MIN_GRPC_PORT": str(ports.direct_ingress_grpc[0]),
        "RAY_SERVE_DIRECT_INGRESS_MAX_GRPC_PORT": str(ports.direct_ingress_grpc[1]),
    }
    if settings.high_throughput:
        env["RAY_SERVE_ENABLE_HA_PROXY"] = "1"
        env["RAY_SERVE_THROUGHPUT_OPTIMIZED"] = "1"
    return env


class LocalCluster:
    """The Ray head that `agentctl up` starts on this machine."""

    def __init__(
        self, settings: Settings, *, ports: Ports | None = None, data_dir: Path | None = None
    ) -> None:
        self.settings = settings
        self.ports = ports or Ports().shifted(settings.ray_port_offset)
        self.data_dir = (data_dir or settings.data_dir).resolve()
        self.temp_dir = self.data_dir / "ray"

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    def state(self) -> ClusterState | None:
        """What `start` recorded, if its processes are still running."""
        if not self.state_file.is_file():
            return None
        state = ClusterState(**json.loads(self.state_file.read_text()))
        return state if self._processes() else None

    def start(self) -> ClusterState:
        running = self.state()
        if running is not None:
            return running
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        p = self.ports
        command = [
            _ray_executable(),
            "start",
            "--head",
            f"--port={p.gcs}",
            f"--temp-dir={self.temp_dir}",
            "--include-dashboard=true",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={p.dashboard}",
            f"--ray-client-server-port={p.client_server}",
            f"--dashboard-agent-listen-port={p.dashboard_agent}",
            f"--dashboard-agent-grpc-port={p.dashboard_agent_grpc}",
            f"--runtime-env-agent-port={p.runtime_env_agent}",
            f"--metrics-export-port={p.metrics_export}",
            f"--min-worker-port={p.worker[0]}",
            f"--max-worker-port={p.worker[1]}",
            "--disable-usage-stats",
        ]
        if self.settings.ray_num_cpus is not None:
            command.append(f"--num-cpus={self.settings.ray_num_cpus}")
        env = {**os.environ, **serve_environment(self.settings, p), MARKER: str(self.temp_dir)}
        log_path = self.data_dir / "ray-start.log"
        with log_path.open("w") as log_file:
            done = subprocess.run(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"`ray start` failed (exit {done.returncode}); see {log_path}")
        address = "127.0.0.1" if self.settings.http_host in ("0.0.0.0", "::") else self.settings.http_host
        state = ClusterState(
            temp_dir=str(self.temp_dir),
            dashboard_url=f"http://127.0.0.1:{p.dashboard}",
            api_url=f"http://{address}:{self.settings.http_port}",
            gcs_address=f"{address}:{p.gcs}",
            ports=asdict(p),
        )
        self.state_file.write_text(json.dumps(asdict(state), indent=2))
        return state

    def stop(self, timeout: float = 8.0) -> int:
        """Stops every process of this cluster (and only this one); returns how many there were."""
        processes = self._processes()
        for proc in processes:
            with suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(processes, timeout=timeout)
        for proc in alive:
            with suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        self.state_file.unlink(missing_ok=True)
        return len(processes)

    def _processes(self) -> list[psutil.Process]:
        """Every process of this cluster: it inherited the marker, or (when a process title has
        overwritten its environment, as Ray's agents' do) it holds files under the temp dir."""
        entry = f"{MARKER}={self.temp_dir}".encode() + b"\0"
        prefix = f"{self.temp_dir}/"
        found = []
        for pid in psutil.pids():
            if pid == os.getpid():
                continue
            try:
                # /proc/<pid>/environ is read directly: Ray's process titles confuse psutil's parser.
                environ = Path(f"/proc/{pid}/environ").read_bytes()
                if entry in environ or environ.endswith(entry[:-1]) or _holds_files_under(pid, prefix):
                    found.append(psutil.Process(pid))
            except (OSError, psutil.Error):
                continue
        return found


def _holds_files_under(pid: int, prefix: str) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    for fd in os.listdir(fds):
        try:
            if os.readlink(fds / fd).startswith(prefix):
                return True
        except OSError:
            continue
    return False


def _ray_executable() -> str:
    beside = Path(sys.executable).parent / "ray"
    return str(beside) if beside.exists() else (shutil.which("ray") or "ray")
