"""`agentctl` as a user runs it: lint, scaffold, list, show, invoke (in process, offline)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serve_app.cli import app
from tests.conftest import DEFINITIONS

cli = CliRunner()


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(DEFINITIONS / "categories.yaml", tmp_path / "categories.yaml")
    (tmp_path / "marketing").mkdir()
    shutil.copy(DEFINITIONS / "marketing" / "marketing_content_writer.yaml", tmp_path / "marketing")
    monkeypatch.setenv("AGENTS_DEFINITIONS_DIR", str(tmp_path))
    return tmp_path


def test_lint_passes_on_a_clean_tree(tree: Path) -> None:
    result = cli.invoke(app, ["definitions", "lint", str(tree)])
    assert result.exit_code == 0, result.output
    assert "1 agent(s) valid" in result.output


def test_lint_prints_file_path_message_lines_and_fails(tree: Path) -> None:
    bad = tree / "marketing" / "broken.yaml"
    text = (tree / "marketing" / "marketing_content_writer.yaml").read_text()
    bad.write_text(
        text.replace("name: marketing_content_writer", "name: broken").replace(
            "maxLength: 2000", "maxLength: -3", 1
        )
    )
    result = cli.invoke(app, ["definitions", "lint", str(tree)])
    assert result.exit_code == 1
    assert f"{bad}: /input_schema/properties/topic/maxLength:" in result.output
    single = cli.invoke(app, ["definitions", "lint", str(bad), "--json"])
    assert single.exit_code == 1
    assert json.loads(single.stdout)["ok"] is False


def test_new_scaffolds_a_definition_that_lints(tree: Path) -> None:
    result = cli.invoke(app, ["definitions", "new", "legal", "legal_memo_drafter"])
    assert result.exit_code == 0, result.output
    assert (tree / "legal" / "legal_memo_drafter.yaml").is_file()
    assert cli.invoke(app, ["definitions", "lint"]).exit_code == 0
    again = cli.invoke(app, ["definitions", "new", "legal", "legal_memo_drafter"])
    assert again.exit_code == 1 and "already exists" in again.output
    assert cli.invoke(app, ["definitions", "new", "nowhere", "x_agent"]).exit_code == 1
    assert cli.invoke(app, ["definitions", "new", "legal", "Bad-Name"]).exit_code == 1


def test_list_and_show_as_json(tree: Path) -> None:
    listed = json.loads(cli.invoke(app, ["agents", "list", "--category", "marketing", "--json"]).stdout)
    assert listed["total"] == 1 and listed["agents"][0]["name"] == "marketing_content_writer"
    assert json.loads(cli.invoke(app, ["agents", "list", "--search", "zzz", "--json"]).stdout)["total"] == 0
    shown = json.loads(cli.invoke(app, ["agents", "show", "marketing_content_writer", "--json"]).stdout)
    assert shown["input_schema"]["required"] == ["topic", "content_type"]
    missing = cli.invoke(app, ["agents", "show", "marketing_writer"])
    assert missing.exit_code == 2 and "did you mean: marketing_content_writer" in missing.output


def test_invoke_offline_from_json_and_from_a_file(tree: Path, tmp_path: Path) -> None:
    document = {"topic": "Trail shoes", "content_type": "blog_post"}
    result = cli.invoke(
        app, ["agents", "invoke", "marketing_content_writer", "-i", json.dumps(document), "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["provider"] == "offline" and "Trail shoes" in body["output"]["headline"]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(document))
    from_file = cli.invoke(app, ["agents", "invoke", "marketing_content_writer", "-i", f"@{path}", "--json"])
    assert json.loads(from_file.stdout)["output"] == body["output"]


def test_invoke_reports_every_bad_input_path(tree: Path) -> None:
    result = cli.invoke(app, ["agents", "invoke", "marketing_content_writer", "-i", '{"topic": 3}'])
    assert result.exit_code == 1
    assert "/topic: 3 is not of type" in result.output
    assert "content_type" in result.output
    assert cli.invoke(app, ["agents", "invoke", "marketing_content_writer", "-i", "{nope"]).exit_code == 1


def test_invoke_streams_to_the_terminal(tree: Path) -> None:
    document = json.dumps({"topic": "Trail shoes", "content_type": "email"})
    result = cli.invoke(app, ["agents", "invoke", "marketing_content_writer", "-i", document, "--stream"])
    assert result.exit_code == 0, result.output
    assert '"headline"' in result.stdout and "offline/offline-schema-sampler" in result.stdout


def test_workflows_validate_lists_every_problem(tree: Path) -> None:
    (tree / "workflows").mkdir()
    assert "ok: 0 workflow(s)" in cli.invoke(app, ["workflows", "validate"]).output
    broken = tree / "workflows" / "broken.yaml"
    broken.write_text(
        "id: broken\ndescription: Two problems in one workflow.\nsteps:\n"
        "  - {id: a, agent: no_such_agent, input: {}}\n"
        "  - {id: b, agent: marketing_content_writer, input: {topic: '${{ steps.zz.output.x }}'}}\n"
    )
    done = cli.invoke(app, ["workflows", "validate", str(broken)])
    assert done.exit_code == 1
    assert "no_such_agent" in done.output and "zz" in done.output


def test_ray_starts_after_the_command_line_is_imported() -> None:
    """`agentctl up` imports every command, then starts Ray in the same process: a native library loaded
    before Ray (regopy's, through the policy engine) makes Ray's GCS client abort."""
    root = tempfile.mkdtemp(prefix="aap-cli-", dir="/tmp")  # short: Ray puts Unix sockets under it
    script = (
        "import serve_app.cli, ray; "
        f"ray.init(num_cpus=1, include_dashboard=False, _temp_dir={root!r}); ray.shutdown(); print('up')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
        check=False,
    )
    shutil.rmtree(root, ignore_errors=True)
    assert done.returncode == 0 and done.stdout.strip().endswith("up"), done.stderr[-2000:]


def test_watching_a_run_shows_each_turn_under_its_step() -> None:
    from rich.console import Console

    from serve_app.cli.workflows import _table

    at = "2026-01-01T00:00:0{}+00:00"
    step = {"step": "copy", "status": "running", "attempts": 2, "error": None, "started_at": at.format(0)}
    turns = [
        {
            "step": "copy",
            "seq": 1,
            "role": "write",
            "agent": "writer",
            "status": "succeeded",
            "attempts": 1,
            "error": None,
            "started_at": at.format(0),
            "finished_at": at.format(2),
        },
        {
            "step": "copy",
            "seq": 2,
            "role": "voice",
            "agent": "checker",
            "status": "failed",
            "attempts": 3,
            "error": {"type": "step_timeout", "message": "over 60 s"},
            "started_at": None,
            "finished_at": None,
        },
    ]
    run = {"workflow": "w", "version": 1, "id": "r", "status": "running", "steps": [step], "turns": turns}
    console = Console(record=True, width=160)
    console.print(_table(run))
    lines = [line for line in console.export_text().splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in lines] == [
        "copy",
        "1. write (writer)",
        "2. voice (checker)",
    ]
    assert "2.00" in lines[1] and "over 60 s" in lines[2]
