"""`agentctl batch submit|status|logs`: batches of agent calls or workflow runs as Ray jobs (the Ray Jobs API,
as `ray job submit` uses), on the local cluster or at `--address`."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from serve_app.cli.output import console, fail, print_json
from serve_app.cluster import LocalCluster
from serve_app.settings import get_settings

app = typer.Typer(help="Batches of agent calls or workflow runs, as Ray jobs.", no_args_is_help=True)
AddressOption = Annotated[
    str | None, typer.Option("--address", help="Ray dashboard URL; default: the local cluster's")
]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def _client(address: str | None) -> Any:
    from ray.job_submission import JobSubmissionClient

    if address is None:
        state = LocalCluster(get_settings()).state()
        if state is None:
            fail("no local cluster is running (agentctl up), and no --address was given")
        address = state.dashboard_url
    return JobSubmissionClient(address)


def _api(api: str | None) -> str:
    if api:
        return api
    state = LocalCluster(get_settings()).state()
    if state is None:
        fail("no local cluster is running (agentctl up), and no --api was given")
    return state.api_url


@app.command()
def submit(
    input: Annotated[Path, typer.Option("--input", help="JSONL: one record (the input) per line")],
    output: Annotated[Path, typer.Option("--output", help="JSONL of results, appended as they arrive")],
    agent: Annotated[str | None, typer.Option("--agent")] = None,
    workflow: Annotated[str | None, typer.Option("--workflow")] = None,
    errors: Annotated[Path | None, typer.Option("--errors", help="default: <output>.errors.jsonl")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Ray Data actors")] = 4,
    per_actor: Annotated[int, typer.Option(min=1, max=256, help="calls in flight per actor")] = 16,
    retries: Annotated[int, typer.Option(min=0, max=10, help="per record, on 429 and 5xx")] = 3,
    key: Annotated[str | None, typer.Option("--key", envvar="AGENTS_API_KEY")] = None,
    api: Annotated[
        str | None, typer.Option("--api", help="API URL the job calls; default: the local one")
    ] = None,
    address: AddressOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="follow the job until it ends")] = False,
) -> None:
    """Submit a batch; a resubmission with the same files resumes where the last one stopped. Paths must be
    reachable from the cluster's head (the same machine for the local cluster)."""
    if (agent is None) == (workflow is None):
        fail("give exactly one of --agent and --workflow")
    if not key:
        fail("an API key is needed: --key or AGENTS_API_KEY")
    if not input.is_file():
        fail(f"{input}: no such file")
    args = ["--agent", agent] if agent else ["--workflow", str(workflow)]
    args += ["--input", str(input.resolve()), "--output", str(output.resolve()), "--api", _api(api)]
    args += ["--concurrency", str(concurrency), "--per-actor", str(per_actor), "--retries", str(retries)]
    if errors is not None:
        args += ["--errors", str(errors.resolve())]
    client = _client(address)
    # The local cluster runs this installation's interpreter; a remote one (an image) has it as `python`.
    python = sys.executable if address is None else "python"
    job_id = client.submit_job(
        entrypoint=shlex.join([python, "-m", "serve_app.batch", *args]),
        runtime_env={"env_vars": {"AGENTS_API_KEY": key}},
        metadata={"kind": "agents-batch", "target": str(agent or workflow), "input": str(input)},
    )
    console.print(f"submitted {job_id}")
    if wait:
        _follow(client, job_id)


@app.command()
def status(
    job_id: str, address: AddressOption = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The job's state and its latest progress counts."""
    client = _client(address)
    info = client.get_job_info(job_id)
    counts = _last_counts(client.get_job_logs(job_id))
    if as_json:
        print_json({"job_id": job_id, "status": _state(info), "counts": counts, "message": info.message})
        return
    console.print(f"{job_id}: {_state(info)}" + (f" {json.dumps(counts)}" if counts else ""))


@app.command()
def logs(
    job_id: str, address: AddressOption = None, follow: Annotated[bool, typer.Option("--follow")] = False
) -> None:
    """The job's output (progress lines are JSON)."""
    client = _client(address)
    if follow:
        _follow(client, job_id)
    else:
        typer.echo(client.get_job_logs(job_id), nl=False)


def _follow(client: Any, job_id: str) -> None:
    with console.status(f"{job_id} ...") as spinner:
        while True:
            info = client.get_job_info(job_id)
            counts = _last_counts(client.get_job_logs(job_id))
            if counts:
                spinner.update(f"{job_id} {_state(info)}: {json.dumps(counts)}")
            if _state(info) in TERMINAL:
                break
            time.sleep(1)
    typer.echo(f"{job_id}: {_state(info)} {json.dumps(counts)}")
    if _state(info) != "SUCCEEDED":
        fail(f"the job ended {_state(info)}: {info.message or ''}", code=1)


def _state(info: Any) -> str:
    return str(getattr(info.status, "value", info.status))


def _last_counts(logs: str) -> dict[str, Any]:
    for line in reversed(logs.splitlines()):
        if line.startswith('{"event"'):
            try:
                found: dict[str, Any] = json.loads(line)
                return found
            except json.JSONDecodeError:
                continue
    return {}
