"""The shipped catalogue, and how the catalogue loads, indexes, searches and refuses bad trees."""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import pytest

from agents import Catalog
from agents.catalog import RESERVED_DIRS
from agents.errors import CatalogError, UnknownAgentError
from agents.spec import definition_json_schema
from tests.conftest import DEFINITIONS

AGENTS = 1500
CATEGORIES = 29


def _shape(schema: object) -> object:
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            return ("object", tuple(sorted((k, _shape(v)) for k, v in schema.get("properties", {}).items())))
        if schema.get("type") == "array":
            return ("array", _shape(schema.get("items")))
        return (schema.get("type"), tuple(schema.get("enum", ())))
    return None


def test_the_catalogue_has_1500_agents_in_29_categories(catalog: Catalog) -> None:
    counts = catalog.count_by_category()
    assert len(catalog) == AGENTS
    assert len(counts) == CATEGORIES
    assert min(counts.values()) >= 30, counts


def test_agents_are_varied(catalog: Catalog) -> None:
    prompts = [spec.system_prompt for spec in catalog]
    words = [len(p.split()) for p in prompts]
    assert len(set(prompts)) == AGENTS, "every agent has its own system prompt"
    assert statistics.median(words) >= 60
    assert len({_shape(spec.output_schema) for spec in catalog}) >= 300
    assert len({spec.description for spec in catalog}) == AGENTS


def test_every_definition_file_points_editors_at_the_format_schema() -> None:
    files = [p for p in DEFINITIONS.glob("*/*.yaml") if p.parent.name not in RESERVED_DIRS]
    assert len(files) == AGENTS
    heads = {p.read_text().split("\n", 1)[0] for p in files}
    assert heads == {"# yaml-language-server: $schema=../agent.schema.json"}


def test_the_committed_format_schema_is_current() -> None:
    committed = json.loads((DEFINITIONS / "agent.schema.json").read_text())
    assert committed == definition_json_schema(), (
        "run: agentctl definitions schema -o definitions/agent.schema.json"
    )


def test_lookup_filters_and_search(catalog: Catalog) -> None:
    spec = catalog.get("marketing_content_writer")
    assert spec.category == "marketing"
    assert all(s.category == "legal" for s in catalog.search(category="legal"))
    tag = spec.tags[0]
    assert spec in catalog.search(tag=tag)
    found = catalog.search("marketing content writer")
    assert found[0].name == "marketing_content_writer"
    assert catalog.search("zzzz-no-such-word") == []
    with pytest.raises(UnknownAgentError):
        catalog.get("no_such_agent")


@pytest.fixture
def small_tree(tmp_path: Path) -> Path:
    shutil.copy(DEFINITIONS / "categories.yaml", tmp_path / "categories.yaml")
    (tmp_path / "marketing").mkdir()
    shutil.copy(DEFINITIONS / "marketing" / "marketing_content_writer.yaml", tmp_path / "marketing")
    return tmp_path


def test_duplicate_names_are_refused_naming_both_files(small_tree: Path) -> None:
    (small_tree / "sales").mkdir()
    text = (small_tree / "marketing" / "marketing_content_writer.yaml").read_text()
    (small_tree / "sales" / "copy.yaml").write_text(text.replace("category: marketing", "category: sales"))
    with pytest.raises(CatalogError) as info:
        Catalog.load(small_tree)
    copy = small_tree / "sales" / "copy.yaml"
    assert info.value.lines() == [
        f"{copy}: /name: 'marketing_content_writer' is also defined in "
        f"{small_tree / 'marketing' / 'marketing_content_writer.yaml'}"
    ]


def test_every_bad_file_is_reported_at_once(small_tree: Path) -> None:
    (small_tree / "legal").mkdir()
    (small_tree / "legal" / "a.yaml").write_text("name: a_agent\n")
    (small_tree / "legal" / "b.yaml").write_text("name: [\n")
    (small_tree / "legal" / "c.yaml").write_text(
        (small_tree / "marketing" / "marketing_content_writer.yaml")
        .read_text()
        .replace("name: marketing_content_writer", "name: legal_copy")
    )
    problems = Catalog.lint(small_tree)
    sources = sorted(Path(p.source).name for p in problems)
    assert sources == ["a.yaml", "b.yaml", "c.yaml"]
    c_lines = next(p for p in problems if p.source.endswith("c.yaml")).lines()
    assert c_lines == [f"{small_tree / 'legal' / 'c.yaml'}: /category: must be 'legal', the directory's name"]


def test_a_workflows_directory_is_not_read_as_agents(small_tree: Path) -> None:
    (small_tree / "workflows").mkdir()
    (small_tree / "workflows" / "flow.yaml").write_text("id: flow\nsteps: []\n")
    assert len(Catalog.load(small_tree)) == 1


def test_an_unknown_category_is_named_with_its_file(small_tree: Path) -> None:
    (small_tree / "astrology").mkdir()
    text = (small_tree / "marketing" / "marketing_content_writer.yaml").read_text()
    path = small_tree / "astrology" / "horoscope_writer.yaml"
    path.write_text(
        text.replace("marketing_content_writer", "horoscope_writer").replace("marketing", "astrology")
    )
    [problem] = Catalog.lint(small_tree)
    assert problem.lines() == [f"{path}: /category: unknown category 'astrology', see categories.yaml"]
