"""The batch job's bookkeeping: what a rerun skips, and records that are not JSON objects."""

from __future__ import annotations

import json
from pathlib import Path

from serve_app.batch import Job, done_indexes, pending


def job(tmp_path: Path) -> Job:
    return Job("marketing_content_writer", "agent", tmp_path / "in.jsonl", tmp_path / "out.jsonl",
               tmp_path / "err.jsonl", "http://api")  # fmt: skip


def test_a_rerun_skips_what_either_file_answered(tmp_path: Path) -> None:
    j = job(tmp_path)
    j.input.write_text("".join(json.dumps({"topic": f"t{i}"}) + "\n" for i in range(5)))
    j.output.write_text('{"index": 0, "output": {}}\n{"index": 3, "output": {}}\n{"index": 4, "out')
    j.errors.write_text('{"index": 1, "error": {}}\n')
    assert done_indexes(j.output, j.errors) == {0, 1, 3}
    assert [r["index"] for r in pending(j)] == [2, 4]  # 4's line was torn: done again


def test_lines_that_are_not_objects_become_errors_not_calls(tmp_path: Path) -> None:
    j = job(tmp_path)
    j.input.write_text('{"topic": "ok"}\nnot json\n[1, 2]\n\n{"topic": "last"}\n')
    records = {r["index"]: json.loads(r["record"]) for r in pending(j)}
    assert set(records) == {0, 1, 2, 4}
    assert "__invalid__" in records[1] and "not JSON" in records[1]["__invalid__"]
    assert "not a JSON object" in records[2]["__invalid__"]
