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
from playwright.sync_api import Browser, Page, expect, sync_playwright

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
    email: str = ""
    password: str = ""

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
    """`AAP_E2E_PLATFORM=<file>` runs the tests against a platform already up instead: the file holds its
    `url`, admin `api_key`, `email` and `password` (for work on the browser tests)."""
    if reuse := os.environ.get("AAP_E2E_PLATFORM"):
        found = json.loads(Path(reuse).read_text())
        yield Platform(found["url"], dict(os.environ), DEFINITIONS, 0.0, **_admin(found))
        return
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
        admin = info["admin"]
        yield Platform(info["api"], env, definitions, info["seconds"], **_admin(admin))
    finally:
        started.agentctl("down", check=False)
        if server:
            asyncio.run(drop_database(server, env["DATABASE_URL"]))
        shutil.rmtree(root, ignore_errors=True)


def _admin(found: dict[str, str]) -> dict[str, str]:
    return {"api_key": found["api_key"], "email": found["email"], "password": found["password"]}


# -- the web UI in a browser ---------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
# Assertions wait this long for the page (Playwright's default, 5 s, is short on two busy cores).
expect.set_options(timeout=20_000)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "ui"


@dataclass
class UI:
    """A Playwright page signed in to the platform's web UI as the admin."""

    page: Page
    platform: Platform

    def goto(self, route: str) -> None:
        """Open `route` (`"#/agents"`) and wait until its page has drawn itself."""
        self.page.goto(f"{self.platform.url}/ui/{route}")
        path = route.removeprefix("#/").partition("?")[0]
        expect(self.page.locator(f'main .page[data-route="{path}"]:not([aria-busy])')).to_be_visible(
            timeout=30_000
        )

    def shot(self, name: str) -> Path:
        """A full-page screenshot, kept as a test artifact."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.evaluate("window.scrollTo(0, 0)")  # else the sticky header is drawn mid-page
        self.page.screenshot(path=path, full_page=True)
        return path

    def sign_in(self, email: str, password: str) -> None:
        sign_in(self.page, self.platform.url, email, password)


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    """Signs in through the form; returns once the page it leads to has drawn itself."""
    page.goto(f"{url}/ui/#/signin")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=30_000)
    expect(page.locator("main .page:not(.page-signin):not([aria-busy])")).to_be_visible(timeout=30_000)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail("the browser tests need Debian's chromium: apt-get install -y chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[Page]:
    """A fresh context (no cookies); fails the test on any uncaught error in the page's scripts."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def ui(platform: Platform, browser_page: Page) -> UI:
    signed_in = UI(browser_page, platform)
    signed_in.sign_in(platform.email, platform.password)
    return signed_in


# -- metrics ------------------------------------------------------------------------------------------


def requests_counted(ports: list[int], agents: set[str]) -> float:
    """`ray_agent_requests_total` of `agents` on the nodes' metrics exporters (a node gone counts 0)."""
    return sum(_counted_on(port, agents) for port in ports)


def _counted_on(port: int, agents: set[str]) -> float:
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
    last = requests_counted(ports, agents)
    for _ in range(6):
        time.sleep(11)
        now = requests_counted(ports, agents)
        if now == last:
            return now
        last = now
    return last


def counted(ports: list[int], agents: set[str], expected: float, within: float = 45) -> float:
    """The count once it reaches `expected`, or whatever it is after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = requests_counted(ports, agents)
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(1)
