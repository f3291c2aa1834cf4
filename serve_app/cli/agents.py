"""`agentctl agents`: list, show and invoke agents in process (no Ray)."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

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
