"""The web UI's files at /ui/: served with headers that keep the pages to their own origin."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from serve_app.routes.ui import mount_ui
from tests.conftest import ROOT


async def _get(api: FastAPI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://ui") as http:
        return await http.get(path)


async def test_pages_and_modules_are_served_with_a_strict_content_security_policy() -> None:
    api = FastAPI()
    mount_ui(api, ROOT / "dashboard")
    page = await _get(api, "/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/app.js">' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    module = await _get(api, "/ui/js/app.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    assert module.headers["x-content-type-options"] == "nosniff"
    for path in ("/", "/ui"):
        moved = await _get(api, path)
        assert moved.status_code == 307 and moved.headers["location"] == "/ui/"


async def test_nothing_outside_the_directory_and_no_routes_without_a_ui(tmp_path: Path) -> None:
    api = FastAPI()
    mount_ui(api, ROOT / "dashboard")
    for path in ("/ui/../pyproject.toml", "/ui/%2e%2e/pyproject.toml", "/ui/nothing.js"):
        assert (await _get(api, path)).status_code == 404
    bare = FastAPI()
    mount_ui(bare, tmp_path)
    assert (await _get(bare, "/ui/")).status_code == 404
    assert (await _get(bare, "/")).status_code == 404


# What would load code, styles or data from another origin.
EXTERNAL = re.compile(
    r"""(?:src|href|action)\s*=\s*["'](?:https?:)?//|@import\s+(?:url\()?["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|(?:from|import)\s*\(?\s*["'](?:https?:)?//"""
    r"""|fetch\(\s*["'](?:https?:)?//""",
    re.IGNORECASE,
)


def test_the_ui_loads_nothing_from_another_origin() -> None:
    """No CDN: every script, style, image and module comes from the gateway."""
    for sample in (
        '<script src="https://cdn.example/x.js">',
        '<link href="//fonts.example/css">',
        "@import url('https://x.example/a.css');",
        'import { x } from "https://esm.example/x.js";',
        'await import("https://esm.example/y.js")',
        "background: url(https://img.example/a.png)",
        'fetch("https://api.example/v1")',
    ):
        assert EXTERNAL.search(sample), sample
    files = [p for p in (ROOT / "dashboard").rglob("*") if p.suffix in {".html", ".js", ".css", ".svg"}]
    assert len(files) > 10
    found = {str(p.relative_to(ROOT)): m.group(0) for p in files if (m := EXTERNAL.search(p.read_text()))}
    assert found == {}
