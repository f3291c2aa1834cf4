"""The example workflows in definitions/workflows: sound against the catalogue, with parallel steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents import Catalog
from dag import Workflow, validate
from tests.conftest import DEFINITIONS

FILES = sorted((DEFINITIONS / "workflows").glob("*.yaml"))


def _load(path: Path) -> Workflow:
    return Workflow.from_file(path)


def test_there_are_at_least_ten_examples() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_example_is_sound_and_parallel(path: Path, catalog: Catalog) -> None:
    wf = _load(path)
    assert wf.id == path.stem
    assert [str(p) for p in validate(wf, catalog)] == []
    if all(step.agent for step in wf.steps):  # a graph, team or chat has its parallelism inside
        assert any(len(layer) >= 2 for layer in wf.layers()), wf.layers()


def test_together_the_examples_show_every_construct() -> None:
    workflows = [_load(path) for path in FILES]
    steps = [step for wf in workflows for step in wf.steps]
    assert any(step.when for step in steps)
    assert any(step.for_each for step in steps)
    assert any(step.run_if_skipped for step in steps)
    assert any(step.retry.attempts > 1 for step in steps)
    assert any(_has_diamond(wf) for wf in workflows)
    assert {step.kind for step in steps} == {"agent", "graph", "team", "chat"}
    assert any(step.graph and step.graph.loops() for step in steps)
    assert any(step.chat and step.chat.speaker == "selector" for step in steps)


def _has_diamond(wf: Workflow) -> bool:
    """Some step fans out to two steps that a later step joins again."""
    needs = wf.dependencies()
    return any(needs[a] & needs[b] for parents in needs.values() for a in parents for b in parents if a < b)
