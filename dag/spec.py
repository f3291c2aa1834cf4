"""Workflow definitions: steps that call catalogue agents, read from YAML or JSON.

A step calls one `agent`, or runs agents together as a `graph`, `team` or `chat` (see `dag.patterns`).

A step runs after every step it depends on: those named in `depends_on` and those its `input`, `when` and
`for_each.items` reference. A step whose `when` is false is skipped; a step is skipped as well when a step it
depends on was skipped, unless it sets `run_if_skipped` (it then sees the skipped step's output as null).
`when` is evaluated once per step, before any `for_each` fan-out, and cannot use the item.
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from agents.errors import DefinitionError, FieldError
from agents.schema import CompiledSchema, metaschema_errors, pointer
from agents.spec import Name, parse_document, read_document
from dag.patterns import (
    NAMES,
    STEP_ID,
    Chat,
    Graph,
    Kind,
    Limits,
    Pattern,
    Spec,
    Team,
    agents_of,
    kind_of,
    templates,
)
from dag.refs import ExpressionError, condition_refs, expressions, parse_ref, strings

StepId = Annotated[str, Field(pattern=STEP_ID)]
RESERVED_NAMES = frozenset({"input", "steps", "true", "false", "null"})


class Retry(Spec):
    """How often a failed step is tried again, with exponential backoff between attempts."""

    attempts: int = Field(default=1, ge=1, le=10, description="total attempts, 1 means no retry")
    backoff_s: float = Field(default=1.0, ge=0, le=60, description="wait before the second attempt")
    max_backoff_s: float = Field(default=30.0, ge=0, le=600, description="upper bound of any wait")

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.max_backoff_s < self.backoff_s:
            raise ValueError("max_backoff_s must not be less than backoff_s")
        return self

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2 for the first retry)."""
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** max(attempt - 2, 0)))


class ForEach(Spec):
    """Run the step once per element of a list; its output is the list of outputs, in order."""

    items: str = Field(
        pattern=r"^\$\{\{.*\}\}$",
        max_length=1000,
        description="one reference to a list, e.g. ${{ input.markets }}",
    )
    as_: str = Field(default="item", alias="as", pattern=STEP_ID, description="the item's name in the input")
    max_concurrency: int = Field(default=4, ge=1, le=64)
    max_items: int = Field(default=100, ge=1, le=1000)

    @field_validator("as_")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NAMES:
            raise ValueError(f"{value!r} is reserved; choose another name")
        return value


class Step(Spec):
    """One call to a catalogue agent, or one collaboration of several (`graph`, `team`, `chat`)."""

    id: StepId
    agent: Name | None = None
    graph: Graph | None = None
    team: Team | None = None
    chat: Chat | None = None
    limits: Limits = Field(default_factory=Limits, description="bounds of a graph, team or chat")
    input: dict[Annotated[str, Field(min_length=1, max_length=200)], Any] = Field(
        default_factory=dict,
        max_length=200,
        description="the agent's input; strings may hold ${{ }} references",
    )
    depends_on: list[StepId] = Field(default_factory=list, max_length=100)
    when: str | None = Field(default=None, min_length=1, max_length=2000)
    for_each: ForEach | None = None
    retry: Retry = Field(default_factory=Retry)
    timeout_s: float = Field(default=120, ge=1, le=3600, description="deadline of one attempt")
    run_if_skipped: bool = Field(default=False, description="run even when a step it depends on was skipped")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        given = [k for k in ("agent", "graph", "team", "chat") if getattr(self, k) is not None]
        if len(given) != 1:
            found = " and ".join(given) if given else "none"
            raise ValueError(f"a step has exactly one of agent, graph, team or chat (found {found})")
        if self.for_each is not None and self.agent is None:
            raise ValueError("for_each runs an agent step; a graph, team or chat cannot fan out")
        return self

    @property
    def pattern(self) -> Pattern | None:
        """The step's collaboration, None for an agent step."""
        return self.graph or self.team or self.chat

    @property
    def kind(self) -> Kind | Literal["agent"]:
        pattern = self.pattern
        return "agent" if pattern is None else kind_of(pattern)

    def agents(self) -> list[str]:
        """Every agent the step calls."""
        pattern = self.pattern
        return agents_of(pattern) if pattern is not None else [self.agent or ""]

    @property
    def item_name(self) -> str:
        """The name a for_each item goes by (`item` unless `as` says otherwise)."""
        return self.for_each.as_ if self.for_each else "item"


class CycleError(DefinitionError):
    """The steps depend on each other in a cycle; `cycle` lists it, `a -> b` reading `a depends on b`."""

    type = "workflow_cycle"

    def __init__(self, cycle: list[str], *, source: str, path: str = "") -> None:
        self.cycle = cycle
        message = f"dependency cycle: {' -> '.join(cycle)}"
        super().__init__(message, source=source, errors=[FieldError(path, message)])


class Workflow(Spec):
    """A directed acyclic graph of agent calls, as written in `definitions/workflows/<id>.yaml`."""

    id: StepId
    version: int = Field(default=1, ge=1, le=1_000_000)
    description: str = Field(min_length=10, max_length=2000)
    input_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"},
        description="JSON Schema (2020-12) of the input, an object",
    )
    steps: list[Step] = Field(min_length=1, max_length=100)
    outputs: dict[Annotated[str, Field(min_length=1, max_length=100)], Any] = Field(
        default_factory=dict, max_length=100, description="the result; empty means every step's output"
    )

    _input: CompiledSchema = PrivateAttr()
    _index: dict[str, int] = PrivateAttr()
    _dependencies: dict[str, frozenset[str]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = _document_errors(self.input_schema, [step.id for step in self.steps])
        if problems:
            raise DefinitionError(problems[0].message, errors=problems)
        self._input = CompiledSchema(self.input_schema)
        self._index = {step.id: i for i, step in enumerate(self.steps)}
        return self

    @property
    def input(self) -> CompiledSchema:
        """The compiled input schema."""
        return self._input

    def with_defaults(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """`data` with the `default` of each top-level input property it leaves out."""
        filled = dict(data)
        for name, prop in self.input_schema.get("properties", {}).items():
            if name not in filled and isinstance(prop, dict) and "default" in prop:
                filled[name] = copy.deepcopy(prop["default"])
        return filled

    def step(self, id: str) -> Step:
        """The step named `id`; raises `KeyError`."""
        try:
            return self.steps[self._index[id]]
        except KeyError:
            raise KeyError(f"no step {id!r} in workflow {self.id!r}") from None

    def dependencies(self) -> dict[str, frozenset[str]]:
        """Each step's direct dependencies: `depends_on` and the steps its input, when and items reference.

        Malformed references are left out here; `dag.validate` reports them.
        """
        if self._dependencies is None:
            self._dependencies = {step.id: frozenset(_step_dependencies(step)) for step in self.steps}
        return self._dependencies

    def layers(self) -> list[list[str]]:
        """Steps in topological layers, in declaration order; the steps of one layer may run in parallel.

        Raises `CycleError` on a cycle and `DefinitionError` on a dependency on an unknown step.
        """
        remaining = dict(self.dependencies())
        for step_id, needs in remaining.items():
            for need in sorted(needs - self._index.keys()):
                message = f"step {step_id!r} depends on unknown step {need!r}"
                path = f"/steps/{self._index[step_id]}"
                raise DefinitionError(message, source=self.id, errors=[FieldError(path, message)])
        layers, left = topological_layers(remaining)
        if left:
            cycle = find_cycles(left)[0]
            raise CycleError(cycle, source=self.id, path=f"/steps/{self._index[cycle[0]]}")
        return layers

    @classmethod
    def from_data(cls, data: Any, *, source: str = "<data>") -> Workflow:
        if not isinstance(data, dict):
            raise DefinitionError("a workflow definition must be a mapping", source=source)
        keys = list(_non_string_keys(data))
        if keys:
            raise DefinitionError(keys[0].message, source=source, errors=keys)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = [FieldError(pointer(e["loc"]), _message(e["msg"])) for e in exc.errors()]
            failed = {e.path for e in errors}
            steps = data.get("steps")
            ids = (
                [s.get("id") if isinstance(s, dict) else None for s in steps]
                if isinstance(steps, list)
                else []
            )
            schema = data.get("input_schema", {"type": "object"})
            errors += [
                e
                for e in _document_errors(schema, ids)
                if not any(e.path == f or e.path.startswith(f + "/") for f in failed)
            ]
            raise DefinitionError(errors[0].message, source=source, errors=errors) from None
        except DefinitionError as exc:
            raise DefinitionError(exc.errors[0].message, source=source, errors=exc.errors) from None

    @classmethod
    def from_text(
        cls, text: str, *, source: str = "<text>", fmt: Literal["yaml", "json"] = "yaml"
    ) -> Workflow:
        return cls.from_data(parse_document(text, source, fmt), source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> Workflow:
        return cls.from_data(read_document(Path(path)), source=str(path))


def workflow_files(definitions: Path) -> list[Path]:
    """The workflows shipped with a catalogue: `<definitions>/workflows/*.yaml`, in name order."""
    return sorted((definitions / "workflows").glob("*.yaml"))


def topological_layers(
    graph: Mapping[str, Iterable[str]],
) -> tuple[list[list[str]], dict[str, Iterable[str]]]:
    """The nodes of `graph` (node -> what it needs) in layers, each needing only earlier ones, in the
    graph's order; and the nodes left over when a cycle stops the layering (none without one)."""
    remaining = dict(graph)
    done: set[str] = set()
    layers: list[list[str]] = []
    while remaining:
        layer = [node for node, needs in remaining.items() if set(needs) <= done]
        if not layer:
            break
        layers.append(layer)
        done.update(layer)
        for node in layer:
            del remaining[node]
    return layers, remaining


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of `graph` (node -> the nodes it depends on).

    Each cycle starts and ends with the same node, the earliest in `graph`'s order: `[a, b, c, a]`.
    Edges to nodes outside `graph` are ignored.
    """
    edges = {node: [n for n in dict.fromkeys(needs) if n in graph] for node, needs in graph.items()}
    order = {node: i for i, node in enumerate(edges)}
    cycles: list[list[str]] = []
    for component in _components(edges):
        start = min(component, key=order.__getitem__)
        if len(component) == 1 and start not in edges[start]:
            continue
        cycles.append(_shortest_cycle(start, edges, component))
    cycles.sort(key=lambda cycle: order[cycle[0]])
    return cycles


def _components(edges: dict[str, list[str]]) -> Iterator[set[str]]:
    """Strongly connected components (Tarjan), without recursion."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                yield component


def _shortest_cycle(start: str, edges: dict[str, list[str]], component: set[str]) -> list[str]:
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in edges[node]:
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if target in component and target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return [start, start]


def _step_dependencies(step: Step) -> set[str]:
    found = set(step.depends_on)
    item = step.item_name
    values: list[Any] = [step.input, step.for_each.items if step.for_each else None]
    conditions = [step.when] if step.when is not None else []
    if step.pattern is not None:
        for template in templates(step.pattern):
            (conditions if template.condition else values).append(template.value)
    scope = NAMES if step.pattern is not None else frozenset()
    for _, text in strings(values):
        try:
            found.update(
                ref.step
                for expr in expressions(text)
                if (ref := parse_ref(expr, item=item, scope=scope)).step
            )
        except ExpressionError:
            continue
    for when in conditions:
        with contextlib.suppress(ExpressionError):
            found.update(ref.step for ref in condition_refs(when, item=item, scope=scope) if ref.step)
    return found


def _non_string_keys(value: Any, location: tuple[str | int, ...] = ()) -> Iterator[FieldError]:
    if isinstance(value, dict):
        for key, child in value.items():
            if not isinstance(key, str):
                yield FieldError(pointer(location), f"keys must be strings, not {key!r} (quote it)")
            else:
                yield from _non_string_keys(child, (*location, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _non_string_keys(child, (*location, index))


def _document_errors(input_schema: Any, step_ids: list[Any]) -> list[FieldError]:
    errors = list(_non_string_keys(input_schema, ("input_schema",)))
    if not errors:
        errors = [FieldError(f"/input_schema{e.path}", e.message) for e in metaschema_errors(input_schema)]
    first: dict[Any, int] = {}
    for i, step_id in enumerate(step_ids):
        if not isinstance(step_id, str):
            continue
        if step_id in first:
            errors.append(
                FieldError(f"/steps/{i}/id", f"duplicate step id {step_id!r}, also steps[{first[step_id]}]")
            )
        else:
            first[step_id] = i
    return errors


def _message(msg: str) -> str:
    return re.sub(r"^(Value|Assertion) error, ", "", msg)
