"""Deploying the platform's Serve config to a Ray cluster through its dashboard's REST API."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx

SERVE_API = "/api/serve/applications/"


@dataclass(frozen=True, slots=True)
class Progress:
    running: int
    total: int
    failed: list[str]
    message: str = ""


class DeployError(RuntimeError):
    pass


def deploy(dashboard_url: str, config: dict[str, Any], *, timeout: float = 60.0) -> None:
    """PUT the whole config (what `serve deploy` does). Applications not in it are removed."""
    try:
        response = httpx.put(dashboard_url.rstrip("/") + SERVE_API, json=config, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DeployError(f"cannot reach the Ray dashboard at {dashboard_url}: {exc}") from exc
    if response.status_code != 200:
        raise DeployError(
            f"the Ray dashboard refused the config ({response.status_code}): {response.text[:500]}"
        )


def progress(dashboard_url: str, names: list[str]) -> Progress:
    response = httpx.get(dashboard_url.rstrip("/") + SERVE_API, timeout=10)
    response.raise_for_status()
    apps: dict[str, Any] = response.json().get("applications", {})
    statuses = {name: apps.get(name, {}).get("status", "NOT_STARTED") for name in names}
    failed = [n for n, s in statuses.items() if s in ("DEPLOY_FAILED", "UNHEALTHY")]
    messages = [apps[n].get("message", "") for n in failed if n in apps]
    running = sum(1 for s in statuses.values() if s == "RUNNING")
    return Progress(running, len(names), failed, "; ".join(m for m in messages if m)[:1000])


def wait_until_running(
    dashboard_url: str,
    names: list[str],
    *,
    timeout: float = 180.0,
    on_progress: Callable[[Progress], None] = lambda p: None,
) -> Progress:
    """Poll until every named application is RUNNING; raise on failure or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = progress(dashboard_url, names)
        except httpx.HTTPError:
            state = Progress(0, len(names), [])
        on_progress(state)
        if state.failed:
            raise DeployError(f"applications failed: {', '.join(state.failed)}: {state.message}")
        if state.running == state.total:
            return state
        if time.monotonic() > deadline:
            raise DeployError(f"only {state.running}/{state.total} applications running after {timeout:.0f}s")
        time.sleep(0.5)


def wait_for_http(
    url: str, *, timeout: float = 60.0, expect: Callable[[httpx.Response], bool] | None = None
) -> None:
    """Poll `url` until it answers 200 (and `expect` holds)."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200 and (expect is None or expect(response)):
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise DeployError(f"{url} not ready after {timeout:.0f}s: {last}")


def run_applications(gcs_address: str, specs: list[Any], settings: Any) -> None:
    """Deploy applications from this process (no build tasks on the cluster: the driver builds them).

    Used by `agentctl up` and `agentctl reload`; a cluster deployed from a config file
    (`serve deploy`, KubeRay) builds the same applications from `serve_app.app:build_app`.
    """
    import ray
    from ray import serve
    from ray.serve.api import RunTarget

    from serve_app.app import http_options, logging_config
    from serve_app.cluster import auth_mode

    os.environ["RAY_AUTH_MODE"] = auth_mode()  # the cluster's mode (see serve_environment)
    ray.init(address=gcs_address, logging_level=logging.ERROR, log_to_driver=False, configure_logging=False)
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    try:
        serve.start(
            proxy_location=settings.proxy_location,
            http_options=http_options(settings),
            logging_config=logging_config(settings),
        )
        targets = [
            RunTarget(_pinned(spec.build()), name=spec.name, route_prefix=spec.route_prefix) for spec in specs
        ]
        serve.run_many(
            targets, wait_for_ingress_deployment_creation=False, wait_for_applications_running=False
        )
    finally:
        ray.shutdown()


def _pinned(app: Any) -> Any:
    """Give the application's deployment a fixed code version.

    An application deployed from Python gets a random code version on every `serve.run`, so a
    redeploy restarts its replicas even when only `user_config` changed. Pinning the version to the
    platform's code digest makes a catalogue reload an in-place `reconfigure`, as it is for a
    deployment from a config file; a code change still restarts the replicas.
    """
    deployment = app._bound_deployment
    deployment._version = code_digest()
    return app


@cache
def code_digest() -> str:
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in ("agents", "serve_app", "dag"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
