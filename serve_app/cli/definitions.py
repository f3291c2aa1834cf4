"""`agentctl definitions`: lint, scaffold and describe agent definitions."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Annotated

import typer

from agents import Catalog
from agents.errors import CatalogError, DefinitionError
from agents.spec import SNAKE_CASE, AgentSpec, CategoriesFile, definition_json_schema
from serve_app.cli.output import console, fail, print_json
from serve_app.settings import get_settings

app = typer.Typer(help="Lint, scaffold and describe agent definitions.", no_args_is_help=True)

PathArg = Annotated[Path | None, typer.Argument(help="a catalogue directory or one definition file")]


@app.command()
def lint(path: PathArg = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check definitions; print `file: path: message` for every problem and exit 1 if there are any."""
    target = path or get_settings().definitions_dir
    started = time.perf_counter()
    count = 0
    if target.is_file():
        try:
            AgentSpec.from_file(target)
            count, problems = 1, []
        except DefinitionError as exc:
            problems = [exc]
    else:
        try:
            count, problems = len(Catalog.load(target)), []
        except CatalogError as exc:
            problems = list(exc.problems)
        except DefinitionError as exc:
            problems = [exc]
    lines = [line for p in problems for line in p.lines()]
    if as_json:
        print_json({"ok": not problems, "agents": count, "problems": lines})
    else:
        for line in lines:
            typer.echo(line, err=True)  # `file: path: message`, unwrapped
        if not problems:
            console.print(f"[green]ok[/]: {count} agent(s) valid in {time.perf_counter() - started:.2f}s")
    if problems:
        raise typer.Exit(1)


_TEMPLATE = """\
# yaml-language-server: $schema=../agent.schema.json
name: {name}
version: 0.1.0
category: {category}
description: Describe in one sentence what {title} does, for whom and from what input.
tags: [{category_tag}]
system_prompt: |
  You are {title}. Describe the role, the procedure to follow step by step, the constraints that
  matter for this task, and what a good answer contains.
input_schema:
  type: object
  additionalProperties: false
  required: [request]
  properties:
    request:
      description: What the user asks for
      type: string
      maxLength: 4000
output_schema:
  type: object
  additionalProperties: false
  required: [answer]
  properties:
    answer:
      description: The agent's answer
      type: string
"""


@app.command()
def new(
    category: Annotated[str, typer.Argument(help="an existing category id")],
    name: Annotated[str, typer.Argument(help="snake_case agent name, unique in the catalogue")],
    root: Annotated[Path | None, typer.Option(help="catalogue directory")] = None,
) -> None:
    """Scaffold `definitions/<category>/<name>.yaml` from a template that passes lint."""
    root = root or get_settings().definitions_dir
    if not re.match(SNAKE_CASE, name):
        fail(f"agent name {name!r} must be snake_case (letters, digits and single underscores)")
    known = {c.id for c in CategoriesFile.from_file(root / "categories.yaml").categories}
    if category not in known:
        fail(f"unknown category {category!r}", lines=[f"known: {', '.join(sorted(known))}"])
    existing = list(root.glob(f"*/{name}.yaml")) + list(root.glob(f"*/{name}.json"))
    if existing:
        fail(f"an agent named {name!r} already exists: {existing[0]}")
    target = root / category / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = _TEMPLATE.format(
        name=name, category=category, title=name.replace("_", " "), category_tag=category.replace("_", "-")
    )
    AgentSpec.from_text(text, source=str(target))  # the template itself must stay valid
    target.write_text(text, encoding="utf-8")
    console.print(f"created {target}")


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
) -> None:
    """Print (or write) the JSON Schema of the definition format."""
    text = json.dumps(definition_json_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
