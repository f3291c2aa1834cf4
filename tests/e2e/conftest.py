"""One real local platform for the e2e suite: `agentctl up` on its own ports, `agentctl down` at the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEFINITIONS

AGENTCTL = str(Path(sys.executable).parent / "agentctl")


@dataclass
class Platform:
    url: str
    env: dict[str, str]
    definitions: Path
    up_seconds: float

    def agentctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [AGENTCTL, *args], env=self.env, capture_output=True, text=True, timeout=300, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"agentctl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


@pytest.fixture(scope="session")
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
    }
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"):
        env.pop(name, None)
    started = Platform("", env, definitions, 0.0)
    try:
        up = started.agentctl("up", "--json")
        info = json.loads(up.stdout)
        yield Platform(info["api"], env, definitions, info["seconds"])
    finally:
        started.agentctl("down", check=False)
        shutil.rmtree(root, ignore_errors=True)
