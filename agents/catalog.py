"""The catalogue: every agent definition under one directory, indexed by name, category and tag."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agents.errors import CatalogError, DefinitionError, FieldError, UnknownAgentError
from agents.spec import AgentSpec, CategoriesFile, CategorySpec

CATEGORIES_FILE = "categories.yaml"
RESERVED_DIRS = frozenset({"workflows"})  # siblings of the category directories that hold no agents
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class _Entry:
    spec: AgentSpec
    words: frozenset[str]
    text: str


class Catalog:
    """An immutable, validated set of agents and the categories they belong to."""

    def __init__(self, agents: Iterable[AgentSpec], categories: Iterable[CategorySpec]) -> None:
        self._categories = {c.id: c for c in categories}
        self._agents: dict[str, _Entry] = {}
        self._by_category: dict[str, list[str]] = defaultdict(list)
        self._by_tag: dict[str, list[str]] = defaultdict(list)
        problems: list[DefinitionError] = []
        for spec in agents:
            if spec.name in self._agents:
                problems.append(DefinitionError(f"duplicate agent name {spec.name!r}", source=spec.name))
                continue
            if spec.category not in self._categories:
                problems.append(
                    DefinitionError(
                        f"unknown category {spec.category!r}",
                        source=spec.name,
                        errors=[FieldError("/category", f"unknown category {spec.category!r}")],
                    )
                )
                continue
            text = " ".join([spec.name.replace("_", " "), spec.description, *spec.tags]).lower()
            self._agents[spec.name] = _Entry(spec, frozenset(_WORD.findall(text)), text)
            self._by_category[spec.category].append(spec.name)
            for tag in spec.tags:
                self._by_tag[tag].append(spec.name)
        if problems:
            raise CatalogError(problems)

    # -- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, root: str | Path, *, only: str | None = None) -> Catalog:
        """Load `root/categories.yaml` and every `root/<category>/*.yaml|json` (only `root/<only>/` when
        given: what one category's replica serves).

        Raises `CatalogError` with every problem found, each naming its file and the path inside it.
        """
        categories, agents, problems = _read_tree(Path(root), only)
        if problems:
            raise CatalogError(problems)
        return cls(agents, categories)

    @classmethod
    def lint(cls, root: str | Path) -> list[DefinitionError]:
        """Every problem in the tree at `root` (an empty list when it loads cleanly)."""
        try:
            cls.load(root)
        except CatalogError as exc:
            return exc.problems
        except DefinitionError as exc:
            return [exc]
        return []

    # -- lookups ---------------------------------------------------------------------------------

    def get(self, name: str) -> AgentSpec:
        try:
            return self._agents[name].spec
        except KeyError:
            raise UnknownAgentError(name) from None

    def find(self, name: str) -> AgentSpec | None:
        entry = self._agents.get(name)
        return None if entry is None else entry.spec

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def __len__(self) -> int:
        return len(self._agents)

    def __iter__(self) -> Iterator[AgentSpec]:
        return (entry.spec for entry in self._agents.values())

    @property
    def categories(self) -> list[CategorySpec]:
        return list(self._categories.values())

    def in_category(self, category_id: str) -> list[AgentSpec]:
        return [self._agents[n].spec for n in self._by_category.get(category_id, [])]

    def count_by_category(self) -> dict[str, int]:
        return {c: len(self._by_category.get(c, [])) for c in self._categories}

    def search(
        self, query: str | None = None, *, category: str | None = None, tag: str | None = None
    ) -> list[AgentSpec]:
        """Agents matching every word of `query` (as a word prefix), best matches first."""
        names: Iterable[str]
        if category is not None and tag is not None:
            in_tag = set(self._by_tag.get(tag, []))
            names = [n for n in self._by_category.get(category, []) if n in in_tag]
        elif category is not None:
            names = self._by_category.get(category, [])
        elif tag is not None:
            names = self._by_tag.get(tag, [])
        else:
            names = self._agents
        terms = _WORD.findall((query or "").lower())
        if not terms:
            return [self._agents[n].spec for n in names]
        scored: list[tuple[int, str]] = []
        for name in names:
            entry = self._agents[name]
            score = _score(entry, name, terms)
            if score:
                scored.append((-score, name))
        scored.sort()
        return [self._agents[name].spec for _, name in scored]


def _score(entry: _Entry, name: str, terms: list[str]) -> int:
    score = 0
    for term in terms:
        if term in entry.words:
            score += 3 if term in name else 2
        elif any(w.startswith(term) for w in entry.words):
            score += 1
        else:
            return 0
    return score


def _read_tree(
    root: Path, only: str | None = None
) -> tuple[list[CategorySpec], list[AgentSpec], list[DefinitionError]]:
    problems: list[DefinitionError] = []
    categories: list[CategorySpec] = []
    try:
        categories = CategoriesFile.from_file(root / CATEGORIES_FILE).categories
    except DefinitionError as exc:
        problems.append(exc)
    known = {c.id for c in categories}
    agents: list[AgentSpec] = []
    seen: dict[str, Path] = {}
    for path in _definition_files(root, only):
        try:
            spec = AgentSpec.from_file(path)
        except DefinitionError as exc:
            problems.append(exc)
            continue
        if known and spec.category not in known:
            problems.append(
                DefinitionError(
                    f"unknown category {spec.category!r}",
                    source=str(path),
                    errors=[
                        FieldError("/category", f"unknown category {spec.category!r}, see {CATEGORIES_FILE}")
                    ],
                )
            )
        elif spec.category != path.parent.name:
            problems.append(
                DefinitionError(
                    f"category {spec.category!r} does not match the directory {path.parent.name!r}",
                    source=str(path),
                    errors=[FieldError("/category", f"must be {path.parent.name!r}, the directory's name")],
                )
            )
        if spec.name in seen:
            problems.append(
                DefinitionError(
                    f"duplicate agent name {spec.name!r}, also defined in {seen[spec.name]}",
                    source=str(path),
                    errors=[FieldError("/name", f"{spec.name!r} is also defined in {seen[spec.name]}")],
                )
            )
            continue
        seen[spec.name] = path
        agents.append(spec)
    return categories, agents, problems


def _definition_files(root: Path, only: str | None = None) -> list[Path]:
    if not root.is_dir():
        raise DefinitionError("not a directory", source=str(root))
    files = [
        p
        for p in root.glob(f"{only or '*'}/*")
        if p.suffix in (".yaml", ".yml", ".json")
        and p.is_file()
        and not p.name.startswith(".")
        and p.parent.name not in RESERVED_DIRS
    ]
    return sorted(files)
