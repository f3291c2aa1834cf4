"""`agentctl`: the platform's command line."""

from __future__ import annotations

import typer

from serve_app.cli import admin, agents, batch, cluster, definitions, platform, workflows

app = typer.Typer(
    name="agentctl",
    help="Run and manage the AI Agents Platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(definitions.app, name="definitions")
app.add_typer(agents.app, name="agents")
app.add_typer(workflows.app, name="workflows")
app.add_typer(batch.app, name="batch")
app.add_typer(cluster.app, name="cluster")
platform.register(app)
admin.register(app)


def main() -> None:
    app()
