"""`agentctl up|down|reload|status|serve-config|deploy`: run the platform on Ray Serve."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from agents import Catalog
from agents.errors import CatalogError, DefinitionError
from serve_app.app import GATEWAY, AppSpec, application_specs, serve_config
from serve_app.cli.output import console, fail, print_json
from serve_app.cluster import LocalCluster
from serve_app.deploy import DeployError, deploy, run_applications, wait_for_http, wait_until_running
from serve_app.runtime import choose_provider
from serve_app.settings import Settings, get_settings


def _catalog(settings: Settings) -> Catalog:
    try:
        return Catalog.load(settings.definitions_dir)
    except (CatalogError, DefinitionError) as exc:
        fail("the catalogue does not load; nothing was deployed", lines=exc.lines())


def _names(config: dict[str, Any]) -> list[str]:  # of a Serve config
    return [app["name"] for app in config["applications"]]


def _deploy_and_wait(
    settings: Settings, gcs_address: str, dashboard_url: str, api_url: str, catalog: Catalog
) -> float:
    started = time.monotonic()
    specs: list[AppSpec] = application_specs(catalog, settings)
    names = [s.name for s in specs]
    expected = specs[0].digest
    try:
        with console.status("deploying the applications ..."):
            run_applications(gcs_address, specs, settings)
        with Progress(
            TextColumn("[bold]starting[/]"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} applications running"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("deploy", total=len(names))
            wait_until_running(
                dashboard_url, names, on_progress=lambda p: bar.update(task, completed=p.running)
            )
        wait_for_http(f"{api_url}/healthz", expect=lambda r: r.json().get("digest") == expected)
    except DeployError as exc:
        fail(str(exc))
    return time.monotonic() - started


def up(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Start a local Ray head, deploy every agent, and wait until the API answers."""
    import os

    from rich.markup import escape

    from serve_app.embedded import ServiceError, ensure_services, url_without_password

    settings = get_settings()
    started = time.monotonic()
    catalog = _catalog(settings)
    choice = choose_provider(settings)
    with console.status("starting PostgreSQL and Redis ..."):
        try:
            services = ensure_services(settings)
        except ServiceError as exc:
            fail(escape(exc.summary) + (f"; log: {exc.log_file}" if exc.log_file else ""), lines=exc.tail)
    os.environ["DATABASE_URL"] = services.database_url  # inherited by `ray start`, hence by every replica
    os.environ["REDIS_URL"] = services.redis_url
    with console.status("migrating the database ..."):
        first_admin = _prepare_database(settings, services.database_url, catalog)
    cluster = LocalCluster(settings)
    with console.status("starting Ray ..."):
        try:
            state = cluster.start()
        except RuntimeError as exc:
            fail(str(exc))
    _deploy_and_wait(settings, state.gcs_address, state.dashboard_url, state.api_url, catalog)
    took = time.monotonic() - started
    info = {
        "api": state.api_url,
        "docs": f"{state.api_url}/docs",
        "dashboard": state.dashboard_url,
        "agents": len(catalog),
        "categories": len(catalog.categories),
        "provider": choice.name,
        "database": url_without_password(services.database_url),
        "redis": url_without_password(services.redis_url),
        "seconds": round(took, 1),
    }
    if first_admin:
        info["admin"] = first_admin
    if as_json:
        print_json(info)
        return
    console.print(
        f"[green]ready[/] in {took:.1f}s: {len(catalog)} agents in {len(catalog.categories)} categories"
    )
    console.print(f"  API        {info['api']}")
    console.print(f"  OpenAPI    {info['docs']}")
    console.print(f"  Ray        {info['dashboard']}")
    pg_note = "" if settings.database_url else " (embedded)"
    redis_note = "" if settings.redis_url else " (embedded)"
    console.print(f"  PostgreSQL {escape(str(info['database']))}{pg_note}")
    console.print(f"  Redis      {escape(str(info['redis']))}{redis_note}")
    console.print(
        f"  provider   {choice.name}" + (f" ([yellow]{choice.reason}[/])" if choice.name == "offline" else "")
    )
    if first_admin:
        console.print(f"  [bold]first start[/]: tenant {first_admin['tenant']}; shown once, keep them:")
        console.print(f"  admin      {first_admin['email']}", soft_wrap=True)
        console.print(f"  password   {first_admin['password']}", soft_wrap=True)
        console.print(f"  API key    {first_admin['api_key']}", soft_wrap=True)
    console.print("  stop with  agentctl down")


def _prepare_database(settings: Settings, url: str, catalog: Catalog) -> dict[str, str] | None:
    """Migrate; on the very first start create the default tenant, its admin and an admin API key, and
    store the shipped workflows (`definitions/workflows`) in that tenant."""
    import asyncio
    import secrets

    import asyncpg

    from dag.spec import Workflow, workflow_files
    from dag.validate import check
    from serve_app.db import Database, DatabaseUnavailableError, upgrade
    from serve_app.security.secrets import WeakSecretError, signing_keys
    from serve_app.store import DEFAULT_TENANT, Store
    from serve_app.workflows import WorkflowStore

    try:
        _, pepper = signing_keys(settings)
    except WeakSecretError as exc:
        fail(str(exc))
    password = secrets.token_urlsafe(18)

    async def prepare() -> str | None:
        # Checked before anything is stored: a bad file must not cost the admin's one-time credentials.
        shipped = [Workflow.from_file(path) for path in workflow_files(settings.definitions_dir)]
        for workflow in shipped:
            check(workflow, catalog)
        await upgrade(url)
        db = await Database(url, size=1).connect()
        try:
            key = await Store(db, pepper).bootstrap(settings.admin_email, password)
            if key is not None:
                workflows = WorkflowStore(db)
                for workflow in shipped:
                    await workflows.create(DEFAULT_TENANT, workflow, "system")
            return key
        finally:
            await db.close()

    try:
        key = asyncio.run(prepare())
    except (OSError, asyncpg.PostgresError, ValueError, DatabaseUnavailableError, DefinitionError) as exc:
        fail(f"cannot prepare the database: {exc}")
    if key is None:
        return None
    return {"tenant": DEFAULT_TENANT, "email": settings.admin_email, "password": password, "api_key": key}


def down() -> None:
    """Stop everything `agentctl up` started."""
    from rich.markup import escape

    from serve_app.embedded import ServiceError, stop_services

    settings = get_settings()
    stopped = LocalCluster(settings).stop()
    console.print(f"stopped {stopped} process(es)" if stopped else "nothing was running")
    try:
        services = stop_services(settings)
    except ServiceError as exc:
        fail(escape(exc.summary) + (f"; log: {exc.log_file}" if exc.log_file else ""), lines=exc.tail)
    if services:
        console.print(f"stopped {services} embedded service(s); their data is kept")
    else:
        console.print("no embedded service was running")


def reload() -> None:
    """Send the changed catalogue to the running deployments (no restart); refused whole if invalid."""
    settings = get_settings()
    catalog = _catalog(settings)
    state = LocalCluster(settings).state()
    if state is None:
        fail("no local platform is running: start it with `agentctl up`")
    took = _deploy_and_wait(settings, state.gcs_address, state.dashboard_url, state.api_url, catalog)
    console.print(f"[green]reloaded[/] {len(catalog)} agents in {took:.1f}s")


def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the local platform's applications."""
    import httpx

    state = LocalCluster(get_settings()).state()
    if state is None:
        fail("no local platform is running")
    details = httpx.get(f"{state.dashboard_url}/api/serve/applications/", timeout=10).json()
    apps = details.get("applications", {})
    if as_json:
        print_json({name: app.get("status") for name, app in apps.items()})
        return
    for name, app in sorted(apps.items(), key=lambda kv: (kv[0] != GATEWAY, kv[0])):
        deployment = app.get("deployments", {}).get(name, {})
        replicas = len(deployment.get("replicas", []))
        console.print(f"{name:24} {app.get('status'):12} replicas={replicas}")


def serve_config_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
) -> None:
    """Write the Serve config (for `serve deploy` and KubeRay's serveConfigV2) from the catalogue."""
    settings = get_settings()
    text = yaml.safe_dump(serve_config(_catalog(settings), settings), sort_keys=False, width=120)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


def deploy_command(
    address: Annotated[str, typer.Option(help="the Ray dashboard of the cluster, e.g. http://head:8265")],
    api_url: Annotated[str | None, typer.Option(help="where the API will answer, to wait for it")] = None,
) -> None:
    """Deploy the platform to an existing Ray cluster."""
    settings = get_settings()
    catalog = _catalog(settings)
    config = serve_config(catalog, settings)
    try:
        deploy(address, config)
        wait_until_running(address, _names(config))
        if api_url:
            wait_for_http(f"{api_url.rstrip('/')}/readyz")
    except DeployError as exc:
        fail(str(exc))
    console.print(f"[green]deployed[/] {len(catalog)} agents to {address}")


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(reload)
    app.command()(status)
    app.command("serve-config")(serve_config_command)
    app.command("deploy")(deploy_command)
