"""One real local platform for the e2e suite: `agentctl up` on its own ports, `agentctl down` at the end."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import DEFINITIONS
from tests.services import create_database, drop_database, without_db

AGENTCTL = str(Path(sys.executable).parent / "agentctl")


@dataclass
class Platform:
    url: str
    env: dict[str, str]
    definitions: Path
    up_seconds: float
    api_key: str = ""

    def agentctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [AGENTCTL, *args], env=self.env, capture_output=True, text=True, timeout=300, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"agentctl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def client(self, *, authenticated: bool = True) -> httpx.Client:
        headers = {"x-api-key": self.api_key} if authenticated else {}
        return httpx.Client(base_url=self.url, timeout=60, headers=headers)


# Package scope: the platform (its replicas hold PostgreSQL connections) stops when the e2e tests end,
# before the integration tests start their own.
@pytest.fixture(scope="package")
def platform() -> Iterator[Platform]:
    # A short path: Ray puts Unix sockets under it.
    root = Path(tempfile.mkdtemp(prefix="aap-e2e-", dir="/tmp"))
    definitions = root / "definitions"
    shutil.copytree(DEFINITIONS, definitions)
    env = {
        **os.environ,
        "AGENTS_DATA_DIR": str(root / "data"),
        "AGENTS_DEFINITIONS_DIR": str(definitions),
        "AGENTS_RAY_PORT_OFFSET": "1000",
        "AGENTS_HTTP_PORT": "18000",
        "AGENTS_MAX_BODY_BYTES": "65536",
        "AGENTS_PROVIDER": "offline",
        "AGENTS_ENV": "test",
        "AGENTS_JWT_SECRET": secrets.token_urlsafe(32),
        "AGENTS_KEY_PEPPER": secrets.token_urlsafe(32),
    }
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"):
        env.pop(name, None)
    # With servers named in the environment: a fresh database and Redis DB 12 (a first start, so that
    # `up` creates the admin). Without: `up` starts embedded ones in the data directory.
    server = os.environ.get("DATABASE_URL")
    if server:
        env["DATABASE_URL"] = asyncio.run(create_database(server))
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = f"{without_db(os.environ['REDIS_URL'])}/12"
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    started = Platform("", env, definitions, 0.0)
    try:
        up = started.agentctl("up", "--json")
        info = json.loads(up.stdout)
        yield Platform(info["api"], env, definitions, info["seconds"], info["admin"]["api_key"])
    finally:
        started.agentctl("down", check=False)
        if server:
            asyncio.run(drop_database(server, env["DATABASE_URL"]))
        shutil.rmtree(root, ignore_errors=True)


# -- metrics ------------------------------------------------------------------------------------------


def requests_counted(port: int, agents: set[str]) -> float:
    """`ray_agent_requests_total` of `agents` on one node's metrics exporter (0 if the node is gone)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return 0.0
    return sum(
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("ray_agent_requests_total{") and any(f'agent_name="{a}"' in line for a in agents)
    )


def settled(ports: list[int], agents: set[str]) -> float:
    """The count once it stops moving: the exporters report every 10 s, so calls made just before may not
    be in it yet."""
    last = sum(requests_counted(p, agents) for p in ports)
    for _ in range(6):
        time.sleep(11)
        now = sum(requests_counted(p, agents) for p in ports)
        if now == last:
            return now
        last = now
    return last


def counted(ports: list[int], agents: set[str], expected: float, within: float = 45) -> float:
    """The count once it reaches `expected`, or whatever it is after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = sum(requests_counted(p, agents) for p in ports)
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(1)
