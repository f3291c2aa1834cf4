"""`agentctl workflows validate|push|run`: check workflow files against the catalogue, store them on the
running platform, and run one with its steps' status shown live."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.live import Live
from rich.table import Table

from agents import Catalog
from agents.errors import DefinitionError
from serve_app.cli.output import console, fail, print_json
from serve_app.settings import get_settings

app = typer.Typer(help="Workflows: DAGs of agent calls run on Ray.", no_args_is_help=True)
KeyOption = Annotated[
    str | None, typer.Option("--key", envvar="AGENTS_API_KEY", help="API key (or AGENTS_API_KEY)")
]
ApiOption = Annotated[str | None, typer.Option("--api", help="the platform's URL; default: the local one")]
TERMINAL = {"succeeded", "failed", "cancelled"}
COLOURS = {"succeeded": "green", "failed": "red", "cancelled": "red", "running": "yellow", "skipped": "dim"}


def _files(paths: list[Path] | None) -> list[Path]:
    if paths:
        return paths
    from dag.spec import workflow_files

    return workflow_files(get_settings().definitions_dir)


@app.command()
def validate(
    files: Annotated[list[Path] | None, typer.Argument(help="default: definitions/workflows")] = None,
) -> None:
    """Validate workflow files against the catalogue: every problem, as `file: step/field: message`."""
    from dag.spec import Workflow
    from dag.validate import WorkflowError, check

    catalog = Catalog.load(get_settings().definitions_dir)
    problems: list[str] = []
    paths = _files(files)
    for path in paths:
        try:
            check(Workflow.from_file(path), catalog)
        except WorkflowError as exc:
            problems += [f"{path}: {p}" for p in exc.problems]
        except DefinitionError as exc:
            problems += [f"{path}: {line}" for line in exc.message.splitlines()]
    if problems:
        fail(f"{len(problems)} problem(s)", lines=problems)
    console.print(f"[green]ok[/]: {len(paths)} workflow(s)")


def _client(api: str | None, key: str | None) -> httpx.Client:
    settings = get_settings()
    base = api or f"http://{settings.http_host}:{settings.http_port}"
    if not key:
        fail("an API key is needed: --key or AGENTS_API_KEY")
    return httpx.Client(base_url=base, headers={"x-api-key": key}, timeout=30)


def _check(answer: httpx.Response) -> Any:
    if answer.status_code >= 400:
        try:
            error = answer.json()["error"]
            details = error.get("details")
            lines = [json.dumps(d) for d in details] if isinstance(details, list) else []
            fail(f"{answer.status_code} {error['type']}: {error['message']}", lines=lines)
        except (ValueError, KeyError):
            fail(f"{answer.status_code}: {answer.text[:500]}")
    return answer.json()


@app.command()
def push(
    files: Annotated[list[Path] | None, typer.Argument(help="default: definitions/workflows")] = None,
    api: ApiOption = None,
    key: KeyOption = None,
) -> None:
    """Store each file as a new version on the platform (validated there against its catalogue)."""
    from dag.spec import Workflow

    with _client(api, key) as http:
        for path in _files(files):
            try:
                document = Workflow.from_file(path).model_dump(mode="json", by_alias=True, exclude_none=True)
            except DefinitionError as exc:
                fail(f"{path}: {exc.message}")
            stored = _check(http.post("/v1/workflows", json=document))
            console.print(f"{stored['name']} version {stored['version']}")


@app.command()
def run(
    workflow: str,
    input: Annotated[str, typer.Option("--input", help="JSON, or @file")] = "{}",
    watch: Annotated[
        bool, typer.Option("--watch", help="show each step's status until the run ends")
    ] = False,
    api: ApiOption = None,
    key: KeyOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Start a run of a stored workflow; with --watch follow it to the end (exit 1 if it fails)."""
    text = Path(input[1:]).read_text() if input.startswith("@") else input
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--input is not JSON: {exc}")
    with _client(api, key) as http:
        started = _check(http.post(f"/v1/workflows/{workflow}/runs", json={"input": data}))
        run_id = started["id"]
        if not watch:
            print_json(started) if as_json else console.print(f"run {run_id} started")
            return
        with Live(console=console, refresh_per_second=8, transient=as_json) as live:
            while True:
                current = _check(http.get(f"/v1/runs/{run_id}"))
                live.update(_table(current))
                if current["status"] in TERMINAL:
                    break
                time.sleep(0.25)
    if as_json:
        print_json(current)
    elif current["status"] == "succeeded":
        console.print_json(data=current["output"])
    if current["status"] != "succeeded":
        fail(f"run {run_id} {current['status']}: {json.dumps(current.get('error'))}")


def _table(run: dict[str, Any]) -> Table:
    """The run's steps, each followed by its turns (a graph's, team's or chat's agent calls)."""
    colour = COLOURS.get(run["status"], "white")
    table = Table(title=f"{run['workflow']} v{run['version']}  run {run['id']}  [{colour}]{run['status']}[/]")
    for column in ("step", "status", "attempts", "seconds", "error"):
        table.add_column(column)
    turns = run.get("turns") or []
    for step in run["steps"]:
        table.add_row(step["step"], *_cells(step))
        for turn in (t for t in turns if t["step"] == step["step"]):
            table.add_row(f"  {turn['seq']}. {turn['role']} ({turn['agent']})", *_cells(turn))
    return table


def _cells(entry: dict[str, Any]) -> tuple[str, str, str, str]:
    """status, attempts, seconds and error of a step or a turn."""
    seconds = ""
    if entry.get("started_at") and entry.get("finished_at"):
        seconds = f"{_time(entry['finished_at']) - _time(entry['started_at']):.2f}"
    error = entry.get("error")
    message = (
        (error.get("message") or error.get("type") or json.dumps(error)) if isinstance(error, dict) else ""
    )
    return (
        f"[{COLOURS.get(entry['status'], 'white')}]{entry['status']}[/]",
        str(entry["attempts"]),
        seconds,
        message,
    )


def _time(value: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(value).timestamp()
