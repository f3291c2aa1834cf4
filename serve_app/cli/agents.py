"""`agentctl agents`: list, show and invoke agents in process (no Ray); publish versions, roll back and
promote canaries on the running platform."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agents import AgentResult, AgentSpec, Catalog
from agents.errors import (
    AgentError,
    CatalogError,
    DefinitionError,
    InputValidationError,
    OutputValidationError,
    UnknownAgentError,
)
from agents.runner import RunContext, TextChunk
from serve_app.cli.output import console, fail, print_json, table
from serve_app.runtime import build_runner, choose_provider
from serve_app.settings import get_settings

if TYPE_CHECKING:
    from serve_app.releases import ReleaseStore
    from serve_app.routing import Release

app = typer.Typer(help="List, show and invoke agents.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _catalog() -> Catalog:
    try:
        return Catalog.load(get_settings().definitions_dir)
    except CatalogError as exc:
        fail("the catalogue does not load", lines=exc.lines())
    except DefinitionError as exc:
        fail(exc.message, lines=exc.lines())


def _agent(catalog: Catalog, name: str) -> AgentSpec:
    try:
        return catalog.get(name)
    except UnknownAgentError:
        close = [s.name for s in catalog.search(name.replace("_", " "))[:5]]
        fail(f"no agent named {name!r}", lines=[f"did you mean: {', '.join(close)}"] if close else [], code=2)


def summary(spec: AgentSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "version": spec.version,
        "category": spec.category,
        "description": spec.description,
        "tags": spec.tags,
    }


@app.command("list")
def list_(
    category: Annotated[str | None, typer.Option(help="only this category")] = None,
    tag: Annotated[str | None, typer.Option(help="only agents with this tag")] = None,
    search: Annotated[str | None, typer.Option(help="words to look for in names and descriptions")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many rows")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List agents, filtered by category, tag or search words."""
    catalog = _catalog()
    found = catalog.search(search, category=category, tag=tag)
    if as_json:
        print_json({"total": len(found), "agents": [summary(s) for s in found[:limit]]})
        return
    rows = [(s.name, s.category, s.description) for s in found[:limit]]
    table(
        f"{len(found)} agent(s)" + (f", first {limit}" if len(found) > limit else ""),
        ["name", "category", "description"],
        rows,
    )


@app.command()
def show(name: str, as_json: JsonFlag = False) -> None:
    """Show one agent's definition with both schemas."""
    spec = _agent(_catalog(), name)
    data = spec.model_dump(mode="json", exclude={"schema_ref"})
    if as_json:
        print_json(data)
        return
    console.rule(f"[bold]{spec.name}[/] {spec.version} · {spec.category}")
    console.print(spec.description)
    console.print(f"tags: {', '.join(spec.tags) or '-'}")
    console.print("\n[bold]system prompt[/]")
    console.print(spec.system_prompt, markup=False, highlight=False)
    for field in ("input_schema", "output_schema"):
        console.print(f"[bold]{field}[/]")
        console.print_json(json.dumps(data[field]))


def _read_input(raw: str) -> Any:
    text = raw
    if raw.startswith("@"):
        path = Path(raw[1:])
        text = sys.stdin.read() if raw == "@-" else path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--input is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")


@app.command()
def invoke(
    name: str,
    input: Annotated[str, typer.Option("--input", "-i", help="JSON, or @file, or @- for stdin")],
    provider: Annotated[str | None, typer.Option(help="use this provider for this call")] = None,
    stream: Annotated[bool, typer.Option(help="print the output as it is written")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Invoke an agent in this process (no Ray, no server)."""
    settings = get_settings()
    catalog = _catalog()
    spec = _agent(catalog, name)
    document = _read_input(input)
    runner = build_runner(settings)
    if provider is not None and provider not in runner.provider_names:
        fail(
            f"provider {provider!r} is not configured",
            lines=[f"configured: {', '.join(runner.provider_names)}"],
        )
    choice = choose_provider(settings)
    if (provider or spec.model.provider or choice.name) == "offline" and not as_json:
        console.print(
            f"[yellow]note:[/] {choice.reason}"
            if choice.name == "offline"
            else "[yellow]note:[/] offline provider"
        )
    context = RunContext(provider=provider)
    try:
        result = asyncio.run(_run(runner, spec, document, context, stream=stream and not as_json))
    except InputValidationError as exc:
        fail("the input does not match the agent's input schema", lines=[f"  {e}" for e in exc.errors])
    except OutputValidationError as exc:
        fail(exc.message, lines=[f"  {e}" for e in exc.errors])
    except AgentError as exc:
        fail(f"{exc.type}: {exc.message}")
    if as_json:
        print_json(asdict(result))
        return
    if not stream:
        console.print_json(json.dumps(result.output))
    console.print(
        f"[dim]{result.provider}/{result.model} · {result.usage.input_tokens} in / "
        f"{result.usage.output_tokens} out tokens · {result.latency_ms:.1f} ms · request {result.request_id}"
        + (f" · redacted {result.redactions}" if result.redactions else "")
        + "[/]"
    )


async def _run(
    runner: Any, spec: AgentSpec, document: Any, context: RunContext, *, stream: bool
) -> AgentResult:
    if not stream:
        result: AgentResult = await runner.invoke(spec, document, context)
        return result
    final: AgentResult | None = None
    async for event in runner.stream(spec, document, context):
        if isinstance(event, TextChunk):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        else:
            final = event
    sys.stdout.write("\n")
    assert final is not None
    return final


# -- versions -----------------------------------------------------------------------------------------


def _releasing(work: Callable[[ReleaseStore], Awaitable[Release]]) -> Release:
    """Runs `work` on the platform's database and announces the release it returns to the serving
    processes (through the platform's Redis)."""
    # Imported here: the policy engine's native library, loaded before `ray.init` in the same process
    # (`agentctl up` imports every command), makes Ray's GCS client abort.
    from redis.asyncio import Redis

    from serve_app.db import Database, DatabaseUnavailableError
    from serve_app.embedded import ServiceError, ensure_services
    from serve_app.errors import PlatformError
    from serve_app.releases import ReleaseStore, announce

    try:
        services = ensure_services(get_settings())
    except ServiceError as exc:
        fail(exc.summary)

    async def run() -> Release:
        db = await Database(services.database_url, size=1).connect()
        redis = Redis.from_url(services.redis_url, socket_timeout=5, socket_connect_timeout=5)
        try:
            release = await work(ReleaseStore(db))
            await announce(redis, release)
            return release
        finally:
            await redis.aclose()
            await db.close()

    try:
        return asyncio.run(run())
    except (PlatformError, DatabaseUnavailableError) as exc:
        fail(exc.message)


def _actor() -> str:
    """Who a release made from the command line is recorded as."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # a container's user may have no name
        return "cli"


def _show_release(release: Release, as_json: bool) -> None:
    if as_json:
        print_json(release.public())
        return
    canary = f", canary {release.canary} at {release.canary_percent} %" if release.canary else ""
    console.print(f"{release.name}: active {release.active}{canary} (revision {release.revision})")


@app.command()
def publish(
    path: Annotated[Path, typer.Argument(help="the agent's definition (YAML or JSON)")],
    canary: Annotated[
        int | None, typer.Option(min=1, max=99, help="a canary taking this share of calls, in percent")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Store a new version of an agent and make it active (or its canary) on the running platform."""
    try:
        spec = AgentSpec.from_file(path)
    except DefinitionError as exc:
        fail("the definition is not valid", lines=exc.lines())
    baseline = _agent(_catalog(), spec.name)
    if spec.category != baseline.category:
        fail(f"{spec.name} is in category {baseline.category}, not {spec.category}")
    _show_release(_releasing(lambda store: store.publish(spec, baseline, _actor(), canary)), as_json)


@app.command()
def rollback(
    name: str,
    version: Annotated[str | None, typer.Option(help="default: the version before the active one")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Make an earlier version of an agent active again (and end any canary)."""
    baseline = _agent(_catalog(), name)
    _show_release(_releasing(lambda store: store.rollback(baseline, version, _actor())), as_json)


@app.command()
def promote(name: str, as_json: JsonFlag = False) -> None:
    """Make an agent's canary its active version."""
    baseline = _agent(_catalog(), name)
    _show_release(_releasing(lambda store: store.promote(baseline, _actor())), as_json)
