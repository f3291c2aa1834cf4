"""The web UI's modules that need no browser, under Node's own test runner (`node --test`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "js"


def test_ui_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the UI's module tests: apt-get install -y nodejs")
    files = sorted(str(p) for p in HERE.glob("*.test.mjs"))
    assert files, f"no tests under {HERE}"
    done = subprocess.run(
        [node, "--test", "--test-reporter=spec", *files], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
