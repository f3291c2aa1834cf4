"""Checks of a workflow against the catalogue: agents, references, the graph and the agents' schemas.

`validate` returns every problem at once. What can be known before a run is checked:

- every agent exists; every step id named in `depends_on` or a reference exists; the graph has no cycle;
- references parse, `item` is used only inside a `for_each` step's input, and a step never references itself;
- a reference into a step's output names fields the producing agent's output schema has (walking
  `properties`, `items`, `prefixItems`, `additionalProperties` and local `$ref`s; anything untyped or open is
  accepted); a `for_each` step's output is a list of the agent's outputs, so it is indexed first;
- `input.<x>` names a property of the workflow's `input_schema`, outside conditions a required one or one
  with a default (`Workflow.with_defaults` fills those in);
- a step's input covers the agent's `required` properties, has no property the agent does not accept
  (`additionalProperties: false`), its literal values satisfy the agent's input schema, and referenced
  values have a type the property accepts when the producer's schema states it (text around references
  makes a string);
- `for_each.items` is one reference to an array; `when` parses and compares enum fields only with their
  values;
- a step that runs when a dependency was skipped (`run_if_skipped`), and the workflow's `outputs`, reference
  only whole outputs (null when skipped) of steps that may be skipped, never fields inside them;
- in a `graph`, `team` or `chat` (`dag.patterns`): its agents exist and each one's input is checked as a
  step's is; references use only the names defined where they are written (`state`, `output`, `task`,
  `chat`), `state.<key>` names a declared key and `output...` the producing agent's output schema; a graph's
  start, edges and updates name its nodes and declared keys, and a graph that can loop sets `max_visits`;
  the manager and the selector fit their contracts; `until.answer` is a valid JSON Schema; a chat's
  `limits.max_calls` allows its `max_turns`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agents.catalog import Catalog
from agents.errors import DefinitionError, FieldError
from agents.schema import metaschema_errors, pointer
from agents.spec import AgentSpec
from dag.patterns import (
    END,
    MANAGER,
    SELECTOR,
    Chat,
    Graph,
    Member,
    Participant,
    Pattern,
    Team,
    agent_fields,
    output_schema,
    templates,
)
from dag.refs import (
    NO_SCOPE,
    ExpressionError,
    Location,
    Ref,
    Scope,
    Segment,
    expressions,
    format_path,
    has_refs,
    parse_condition,
    parse_ref,
    single,
    strings,
)
from dag.spec import Step, Workflow, find_cycles, topological_layers

Part = Literal["input", "items", "when", "outputs", "pattern"]
TASK_FIELDS = ("id", "description", "goal", "feedback", "context")
CHAT_FIELDS = ("topic", "turn", "transcript", "transcript_text", "last")
STATUS_SCHEMA: dict[str, Any] = {"type": "string", "enum": ["succeeded", "skipped", "failed"]}


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: its step (None for the workflow), a JSON Pointer into the document and a message."""

    step: str | None
    field: str
    message: str

    def __str__(self) -> str:
        if self.step is not None:
            return f"steps[{self.step}]{re.sub(r'^/steps/[0-9]+', '', self.field)}: {self.message}"
        return f"{self.field or '/'}: {self.message}"


class WorkflowError(DefinitionError):
    """A workflow does not fit the catalogue; `problems` holds every problem found."""

    type = "workflow_invalid"

    def __init__(self, problems: list[Problem], *, source: str) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the workflow",
            source=source,
            errors=[FieldError(p.field, p.message) for p in problems],
        )


def validate(workflow: Workflow, catalog: Catalog) -> list[Problem]:
    """Every problem of `workflow` against `catalog`, in document order; an empty list when it is sound."""
    return _Validator(workflow, catalog).run()


def check(workflow: Workflow, catalog: Catalog) -> None:
    """Raise `WorkflowError` carrying every problem when `validate` finds any."""
    problems = validate(workflow, catalog)
    if problems:
        raise WorkflowError(problems, source=workflow.id)


@dataclass(frozen=True, slots=True)
class _Typed:
    """A schema and the root document its local `$ref`s resolve against."""

    schema: Any
    root: Any


@dataclass(frozen=True, slots=True)
class _Use:
    """One reference found in a step (or the outputs): where, which, and in what part."""

    field: str
    ref: Ref
    part: Part
    whole: bool  # the string is exactly this one reference


class _Validator:
    def __init__(self, workflow: Workflow, catalog: Catalog) -> None:
        self.workflow = workflow
        self.catalog = catalog
        self.problems: list[Problem] = []
        self.index = {step.id: i for i, step in enumerate(workflow.steps)}
        self.agents: dict[str, AgentSpec | None] = {
            step.id: self.agent(step.agent) for step in workflow.steps if step.agent is not None
        }
        self.uses: dict[str, list[_Use]] = {}
        self.typed: dict[tuple[str, str], _Typed | None] = {}
        self.item_schemas: dict[str, _Typed | None] = {}
        self.producers: dict[str, str | None] = {}  # field -> the agent `output` means there

    def report(self, step: Step | None, field: str, message: str) -> None:
        self.problems.append(Problem(step.id if step else None, field, message))

    def agent(self, name: str | None) -> AgentSpec | None:
        return self.catalog.get(name) if name is not None and name in self.catalog else None

    def run(self) -> list[Problem]:
        # The input schema is already a valid schema: a Workflow with one that is not cannot be built.
        graph: dict[str, set[str]] = {}
        for i, step in enumerate(self.workflow.steps):
            graph[step.id] = self.scan_step(i, step)
        cycles = find_cycles(graph)
        for cycle in cycles:
            first = self.workflow.steps[self.index[cycle[0]]]
            self.report(first, f"/steps/{self.index[first.id]}", f"dependency cycle: {' -> '.join(cycle)}")
        may_skip = {} if cycles else _may_skip(self.workflow, graph)
        for i, step in enumerate(self.workflow.steps):
            self.check_step(i, step, may_skip)
        self.check_outputs(may_skip)
        return [
            p
            for _, p in sorted(
                enumerate(self.problems), key=lambda pair: (_field_key(pair[1].field), pair[0])
            )
        ]

    # -- references and the graph -----------------------------------------------------------------

    def scan_step(self, i: int, step: Step) -> set[str]:
        """Report unknown agents and steps and malformed references; return the step's known dependencies."""
        base = f"/steps/{i}"
        if step.agent is not None and self.agents[step.id] is None:
            self.report(
                step, f"{base}/agent", f"unknown agent {step.agent!r}{self.suggest_agent(step.agent)}"
            )
        needs: set[str] = set()
        for j, need in enumerate(step.depends_on):
            if need in self.index:
                needs.add(need)
            else:
                self.report(
                    step, f"{base}/depends_on/{j}", f"unknown step {need!r}{_suggest(need, self.index)}"
                )
        item = step.item_name
        uses: list[_Use] = []
        parts: list[tuple[Part, str, Any]] = [("input", f"{base}/input", step.input)]
        if step.for_each is not None:
            parts.insert(0, ("items", f"{base}/for_each/items", step.for_each.items))
        for part, field, value in parts:
            for location, text in strings(value):
                uses += self.parse_text(step, part, field + pointer(location), text, item)
        if step.pattern is not None:
            uses += self.scan_pattern(step, f"{base}/{step.kind}", step.pattern)
        if step.when is not None:
            try:
                condition = parse_condition(step.when, item=item)
            except ExpressionError as exc:
                self.report(step, f"{base}/when", f"invalid condition: {exc.reason}")
            else:
                uses += [_Use(f"{base}/when", ref, "when", False) for ref in condition.refs]
        for use in uses:
            ref = use.ref
            if ref.root == "item":
                if step.for_each is None:
                    self.report(step, use.field, f"{ref.text}: the item exists only in a for_each step")
                elif use.part != "input":
                    where = (
                        "for_each.items"
                        if use.part == "items"
                        else "when (evaluated once, before the fan-out)"
                    )
                    self.report(step, use.field, f"{ref.text}: {where} cannot use the item")
            elif ref.step is not None:
                if ref.step == step.id:
                    self.report(
                        step, use.field, f"{ref.text}: a step cannot reference its own output or status"
                    )
                elif ref.step in self.index:
                    needs.add(ref.step)
                else:
                    self.report(
                        step,
                        use.field,
                        f"{ref.text}: unknown step {ref.step!r}{_suggest(ref.step, self.index)}",
                    )
        self.uses[step.id] = uses
        return needs

    def parse_text(
        self, step: Step | None, part: Part, field: str, text: str, item: str | None, scope: Scope = NO_SCOPE
    ) -> list[_Use]:
        try:
            found = expressions(text)
        except ExpressionError as exc:
            self.report(step, field, exc.reason)
            return []
        whole = single(text) is not None
        uses: list[_Use] = []
        for expr in found:
            try:
                uses.append(_Use(field, parse_ref(expr, item=item, scope=scope), part, whole))
            except ExpressionError as exc:
                self.report(step, field, f"invalid reference ${{{{ {exc.text} }}}}: {exc.reason}")
        return uses

    # -- schemas ----------------------------------------------------------------------------------

    def check_step(self, i: int, step: Step, may_skip: dict[str, bool]) -> None:
        base = f"/steps/{i}"
        for use in self.uses[step.id]:
            self.typed[use.field, use.ref.text] = self.resolve(step, use)
            if step.run_if_skipped and use.part != "when":
                self.check_skippable(step, use, may_skip)
        if step.for_each is not None:
            self.check_items(step, base)
        if step.when is not None:
            self.check_comparisons(step, base)
        agent = self.agents.get(step.id)
        if agent is not None:
            self.check_input(step, base, agent)
        if step.pattern is not None:
            self.check_pattern(step, f"{base}/{step.kind}", step.pattern)

    def resolve(self, step: Step | None, use: _Use) -> _Typed | None:
        """The schema of the referenced value when knowable; reports paths the schema rules out."""
        ref = use.ref
        if ref.root == "input":
            schema = self.workflow.input_schema
            if ref.path and ref.path[0] not in schema.get("properties", {}):
                name = ref.path[0]
                hint = _suggest(str(name), schema.get("properties", {}))
                self.report(
                    step, use.field, f"{ref.text}: the workflow's input_schema has no property {name!r}{hint}"
                )
                return None
            if ref.path and use.part != "when" and _optional(schema, str(ref.path[0])):
                self.report(
                    step,
                    use.field,
                    f"{ref.text}: input {ref.path[0]!r} is optional and has no default, so the reference "
                    "fails when a run leaves it out; make it required or give it a default",
                )
            return self.walk(step, use, _Typed(schema, schema), ("input",), ref.path, "the workflow input")
        if ref.root == "scope":
            return None  # checked with the pattern (`check_scoped`)
        if ref.root == "item":
            if step is None or step.for_each is None or use.part != "input":
                return None
            start = self.item_schema(step)
            return None if start is None else self.walk(step, use, start, (step.item_name,), ref.path, "")
        if ref.step is None or ref.step not in self.index or ref.step == (step.id if step else None):
            return None
        if ref.path == ("status",):
            return _Typed(STATUS_SCHEMA, STATUS_SCHEMA)
        producer = self.workflow.steps[self.index[ref.step]]
        if producer.pattern is not None:
            output = self.pattern_output(producer.pattern)
            return self.walk(
                step, use, _Typed(output, output), ("steps", ref.step, "output"), ref.path[1:], ""
            )
        agent = self.agents[producer.id]
        if agent is None:
            return None
        output = agent.output_schema
        start = _Typed({"type": "array", "items": output} if producer.for_each else output, output)
        owner = f"agent {agent.name}" + (", one output per item" if producer.for_each else "")
        return self.walk(step, use, start, ("steps", ref.step, "output"), ref.path[1:], owner)

    def walk(
        self, step: Step | None, use: _Use, typed: _Typed, prefix: Location, path: Location, owner: str
    ) -> _Typed | None:
        current: _Typed | None = typed
        for depth, segment in enumerate(path):
            if current is None:
                return None
            current, error = _child(current, segment)
            if error is not None:
                where = format_path((*prefix, *path[:depth]))
                suffix = f" ({owner})" if owner else ""
                self.report(step, use.field, f"{use.ref.text}: {where} {error}{suffix}")
                return None
        return current

    def item_schema(self, step: Step) -> _Typed | None:
        if step.id not in self.item_schemas:
            assert step.for_each is not None
            field = f"/steps/{self.index[step.id]}/for_each/items"
            items = self.typed.get((field, single(step.for_each.items) or ""))
            element = _child(items, 0)[0] if items is not None else None
            self.item_schemas[step.id] = element
        return self.item_schemas[step.id]

    def check_items(self, step: Step, base: str) -> None:
        assert step.for_each is not None
        field = f"{base}/for_each/items"
        if single(step.for_each.items) is None:
            self.report(
                step, field, "for_each.items must be exactly one reference, e.g. ${{ input.markets }}"
            )
            return
        types = _types(self.typed.get((field, single(step.for_each.items) or "")))
        if types is not None and "array" not in types:
            self.report(step, field, f"for_each.items must be a list; {step.for_each.items} is {_a(types)}")

    def check_comparisons(self, step: Step, base: str) -> None:
        assert step.when is not None
        try:
            condition = parse_condition(step.when, item=step.item_name)
        except ExpressionError:
            return
        for ref, values in condition.comparisons:
            if ref.root == "item":
                continue
            allowed = _enum(self.typed.get((f"{base}/when", ref.text)))
            if allowed is None:
                continue
            for value in values:
                if value not in allowed:
                    choices = ", ".join(map(repr, allowed))
                    self.report(
                        step, f"{base}/when", f"{ref.text} is never {value!r}; it is one of {choices}"
                    )

    def check_skippable(self, step: Step | None, use: _Use, may_skip: dict[str, bool]) -> None:
        ref = use.ref
        if ref.step is not None and ref.is_output and len(ref.path) > 1 and may_skip.get(ref.step, False):
            self.report(
                step,
                use.field,
                f"{ref.text}: step {ref.step!r} may be skipped, and then its output is null; reference the "
                f"whole ${{{{ steps.{ref.step}.output }}}} or check steps.{ref.step}.status in a condition",
            )

    def check_input(
        self, step: Step, base: str, agent: AgentSpec, given: dict[str, Any] | None = None
    ) -> None:
        """The input given to `agent` (the step's own unless `given`), written at `<base>/input`."""
        given = step.input if given is None else given
        schema = agent.input_schema
        properties: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in given:
                self.report(step, f"{base}/input", f"missing required input {name!r} of agent {agent.name}")
        closed = schema.get("additionalProperties") is False
        literals = {name: value for name, value in given.items() if not has_refs(value)}
        literal_errors: dict[str, list[FieldError]] = {}
        for error in agent.input.errors(literals) if literals else []:
            if error.path:
                literal_errors.setdefault(error.path.split("/")[1], []).append(error)
        for name, value in given.items():
            field = f"{base}/input{pointer([name])}"
            if name not in properties and closed:
                hint = _suggest(name, properties)
                self.report(step, field, f"agent {agent.name} has no input {name!r}{hint}")
            elif name in literals:
                for error in literal_errors.get(pointer([name])[1:], []):
                    self.report(step, f"{base}/input{error.path}", error.message)
            elif name in properties:
                self.check_value(step, field, value, _Typed(properties[name], schema), agent)

    def check_value(self, step: Step, field: str, value: Any, target: _Typed, agent: AgentSpec) -> None:
        """Types of a value holding references against the property's schema, where both are known."""
        wanted = _types(target)
        source: set[str] | None
        label: str
        if isinstance(value, str):
            expr = single(value)
            if expr is not None:
                typed = self.typed.get((field, expr))
                source, label = _types(typed), f"${{{{ {expr} }}}}"
                offered, accepted = _enum(typed), _enum(target)
                if offered is not None and accepted is not None and not any(v in accepted for v in offered):
                    self.report(
                        step,
                        field,
                        f"{label} is one of {list(offered)!r}, but {agent.name} accepts {list(accepted)!r}",
                    )
                    return
                gaps = _format_gaps(typed, target) if typed is not None else []
                if gaps:
                    where, needed = gaps[0]
                    self.report(
                        step,
                        field,
                        f"{label}{where} has no format {needed!r}, which {agent.name} requires here;"
                        f" declare it (format: {needed}) where the value comes from",
                    )
                    return
            else:
                source, label = {"string"}, "this text" if has_refs(value) else repr(value)
        elif isinstance(value, dict):
            source, label = {"object"}, "this value"
            for key, child in value.items():
                sub, _ = _child(target, key)
                if sub is not None:
                    self.check_value(step, f"{field}{pointer([key])}", child, sub, agent)
        elif isinstance(value, list):
            source, label = {"array"}, "this value"
            for n, child in enumerate(value):
                sub, _ = _child(target, n)
                if sub is not None:
                    self.check_value(step, f"{field}/{n}", child, sub, agent)
        else:
            source, label = {_json_type(value)}, repr(value)
        if source is not None and wanted is not None and not _compatible(source, wanted):
            self.report(step, field, f"{label} is {_a(source)}, but {agent.name} expects {_a(wanted)} here")

    # -- collaboration steps ------------------------------------------------------------------------

    def scan_pattern(self, step: Step, base: str, pattern: Pattern) -> list[_Use]:
        """Unknown agents, and the references of every template with the names in scope there."""
        for field, name in agent_fields(pattern):
            if self.agent(name) is None:
                self.report(step, f"{base}{field}", f"unknown agent {name!r}{self.suggest_agent(name)}")
        uses: list[_Use] = []
        for template in templates(pattern):
            field = base + template.where
            found: list[_Use] = []
            if template.condition:
                try:
                    parsed = parse_condition(template.value, item=None, scope=template.scope)
                except ExpressionError as exc:
                    self.report(step, field, f"invalid condition: {exc.reason}")
                else:
                    found = [_Use(field, ref, "pattern", False) for ref in parsed.refs]
            else:
                for location, text in strings(template.value):
                    found += self.parse_text(
                        step, "pattern", field + pointer(location), text, None, template.scope
                    )
            self.producers.update((use.field, template.producer) for use in found)
            uses += found
        return uses

    def check_pattern(self, step: Step, base: str, pattern: Pattern) -> None:
        if isinstance(pattern, Graph):
            self.check_graph(step, base, pattern)
        elif isinstance(pattern, Team):
            self.check_team(step, base, pattern)
        else:
            self.check_chat(step, base, pattern)
        for use in self.uses[step.id]:
            if use.ref.root == "scope":
                self.check_scoped(step, pattern, use)

    def check_scoped(self, step: Step, pattern: Pattern, use: _Use) -> None:
        """`state.<key>`, `task.<field>`, `chat.<field>` and `output...` against what they hold."""
        ref, head = use.ref, use.ref.path[0] if use.ref.path else None
        if ref.name == "state" and isinstance(pattern, Graph):
            keys = pattern.state_keys()
            if head is not None and head not in keys:
                hint = _suggest(str(head), keys)
                message = f"{ref.text}: the state has no key {head!r}{hint}; declare it in graph.state"
                self.report(step, use.field, message)
        elif ref.name in ("task", "chat"):
            fields = TASK_FIELDS if ref.name == "task" else CHAT_FIELDS
            if head is not None and head not in fields:
                self.report(
                    step,
                    use.field,
                    f"{ref.text}: {ref.name} has no field {head!r} (fields: {', '.join(fields)})",
                )
        elif ref.name == "output":
            agent = self.agent(self.producers.get(use.field))
            if agent is not None:
                start = _Typed(agent.output_schema, agent.output_schema)
                self.walk(step, use, start, ("output",), ref.path, f"agent {agent.name}")

    def check_graph(self, step: Step, base: str, graph: Graph) -> None:
        ids = [n.id for n in graph.nodes]
        for i, node in enumerate(graph.nodes):
            if node.id == END:
                self.report(step, f"{base}/nodes/{i}/id", f"{END!r} ends the graph; name the node otherwise")
            elif ids.index(node.id) != i:
                self.report(step, f"{base}/nodes/{i}/id", f"duplicate node id {node.id!r}")
            agent = self.agent(node.agent)
            if agent is not None:
                self.check_input(step, f"{base}/nodes/{i}", agent, node.input)
            for key in node.update or {}:
                if key not in graph.state:
                    self.report(
                        step,
                        f"{base}/nodes/{i}/update/{key}",
                        f"the update writes {key!r}, which graph.state does not declare",
                    )
        if graph.start not in ids:
            self.report(step, f"{base}/start", f"unknown node {graph.start!r}{_suggest(graph.start, ids)}")
        for i, edge in enumerate(graph.edges):
            for end, name, known in (("from", edge.from_, ids), ("to", edge.to, [*ids, END])):
                if name not in known:
                    self.report(
                        step, f"{base}/edges/{i}/{end}", f"unknown node {name!r}{_suggest(name, known)}"
                    )
        if graph.max_visits is None and graph.loops():
            self.report(
                step, f"{base}/max_visits", "the edges form a loop: set max_visits, how often a node may run"
            )
        reached = graph.reachable()
        for i, node in enumerate(graph.nodes):
            if node.id not in reached and graph.start in ids:
                self.report(
                    step, f"{base}/nodes/{i}", f"node {node.id!r} is never reached from {graph.start!r}"
                )

    def check_team(self, step: Step, base: str, team: Team) -> None:
        self.check_contract(step, f"{base}/manager", team.manager, MANAGER, "manage a team")
        self.check_callers(step, f"{base}/members", team.members, "is a member twice")

    def check_chat(self, step: Step, base: str, chat: Chat) -> None:
        if chat.selector is not None:
            self.check_contract(step, f"{base}/selector", chat.selector, SELECTOR, "select speakers")
        self.check_callers(step, f"{base}/participants", chat.participants, "takes part twice")
        if chat.until.answer is not None:
            for error in metaschema_errors(chat.until.answer):
                self.report(step, f"{base}/until/answer{error.path}", error.message)
        needed = chat.max_turns * (2 if chat.selector else 1)
        if step.limits.max_calls < needed:
            self.report(
                step,
                f"/steps/{self.index[step.id]}/limits/max_calls",
                f"max_calls ({step.limits.max_calls}) is below the {needed} calls that max_turns allows",
            )

    def check_callers(
        self, step: Step, base: str, entries: Sequence[Member | Participant], twice: str
    ) -> None:
        """Members or participants: each agent once, each given an input it accepts."""
        names = [e.agent for e in entries]
        for i, entry in enumerate(entries):
            if names.index(entry.agent) != i:
                self.report(step, f"{base}/{i}/agent", f"{entry.agent!r} {twice}")
            agent = self.agent(entry.agent)
            if agent is not None:
                self.check_input(step, f"{base}/{i}", agent, entry.input)

    def check_contract(
        self, step: Step, field: str, name: str, contract: tuple[tuple[str, ...], tuple[str, ...]], job: str
    ) -> None:
        agent = self.agent(name)
        if agent is None:
            return
        for side, schema, wanted in (
            ("input", agent.input_schema, contract[0]),
            ("output", agent.output_schema, contract[1]),
        ):
            missing = [p for p in wanted if p not in schema.get("properties", {})]
            if missing:
                self.report(
                    step,
                    field,
                    f"agent {name} cannot {job}: its {side}_schema lacks {', '.join(map(repr, missing))}",
                )

    def pattern_output(self, pattern: Pattern) -> dict[str, Any]:
        manager = self.agent(pattern.manager) if isinstance(pattern, Team) else None
        answer = manager.output_schema.get("properties", {}).get("answer") if manager else None
        return output_schema(pattern, answer if isinstance(answer, dict) else None)

    # -- outputs ----------------------------------------------------------------------------------

    def check_outputs(self, may_skip: dict[str, bool]) -> None:
        for location, text in strings(self.workflow.outputs):
            field = "/outputs" + pointer(location)
            for use in self.parse_text(None, "outputs", field, text, None):
                ref = use.ref
                if ref.step is not None and ref.step not in self.index:
                    self.report(
                        None, field, f"{ref.text}: unknown step {ref.step!r}{_suggest(ref.step, self.index)}"
                    )
                    continue
                self.resolve(None, use)
                self.check_skippable(None, use, may_skip)

    # -- suggestions ------------------------------------------------------------------------------

    def suggest_agent(self, name: str) -> str:
        names = [agent.name for agent in self.catalog]
        return _suggest(name, names)


def _may_skip(workflow: Workflow, graph: dict[str, set[str]]) -> dict[str, bool]:
    """Whether each step may end up skipped: it has a condition or inherits a skip from a dependency."""
    result: dict[str, bool] = {}
    for layer in topological_layers(graph)[0]:
        for step_id in layer:
            step = workflow.step(step_id)
            inherited = not step.run_if_skipped and any(result[need] for need in graph[step_id])
            result[step_id] = step.when is not None or inherited
    return result


def _optional(schema: dict[str, Any], name: str) -> bool:
    prop = schema.get("properties", {}).get(name)
    has_default = isinstance(prop, dict) and "default" in prop
    return name not in schema.get("required", []) and not has_default


_STEP_FIELDS = ("", "id", "agent", "depends_on", "for_each", "when", "input")


def _field_key(field: str) -> tuple[int, int, int]:
    """Workflow fields first, then each step (its fields in a fixed order), then the outputs."""
    match = re.match(r"^/steps/([0-9]+)/?([^/]*)", field)
    if match:
        part = match.group(2)
        rank = _STEP_FIELDS.index(part) if part in _STEP_FIELDS else len(_STEP_FIELDS)
        return 1, int(match.group(1)), rank
    return (2, 0, 0) if field.startswith("/outputs") else (0, 0, 0)


def _suggest(name: str, names: Iterable[str]) -> str:
    close = [repr(n) for n in difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)]
    if not close:
        return ""
    return f"; did you mean {close[0] if len(close) == 1 else ', '.join(close[:-1]) + ' or ' + close[-1]}?"


# -- JSON Schema walking --------------------------------------------------------------------------


def _deref(typed: _Typed) -> _Typed | None:
    schema = typed.schema
    for _ in range(32):
        if not isinstance(schema, dict) or not isinstance(schema.get("$ref"), str):
            return _Typed(schema, typed.root)
        ref: str = schema["$ref"]
        if not ref.startswith("#"):
            return None
        schema = typed.root
        for part in [p.replace("~1", "/").replace("~0", "~") for p in ref[1:].split("/")[1:]]:
            if isinstance(schema, dict) and part in schema:
                schema = schema[part]
            elif isinstance(schema, list) and part.isdigit() and int(part) < len(schema):
                schema = schema[int(part)]
            else:
                return None
    return None


def _types(typed: _Typed | None) -> set[str] | None:
    """The JSON types a schema allows, None when it does not say."""
    resolved = _deref(typed) if typed is not None else None
    if resolved is None or not isinstance(resolved.schema, dict):
        return None
    schema = resolved.schema
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    if "const" in schema:
        return {_json_type(schema["const"])}
    if isinstance(schema.get("enum"), list):
        return {_json_type(v) for v in schema["enum"]}
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            found: set[str] = set()
            for branch in branches:
                types = _types(_Typed(branch, resolved.root))
                if types is None:
                    return None
                found |= types
            return found
    return None


def _format(typed: _Typed | None) -> str | None:
    """The `format` of a string schema, if any (only string formats: a number's format is advisory)."""
    resolved = _deref(typed) if typed is not None else None
    if resolved is None or not isinstance(resolved.schema, dict):
        return None
    value = resolved.schema.get("format")
    return value if isinstance(value, str) and _types(resolved) in (None, {"string"}) else None


def _format_gaps(source: _Typed, target: _Typed, where: str = "", depth: int = 0) -> list[tuple[str, str]]:
    """Where `target` requires a string format that `source` does not declare, walking properties and items
    that both describe; an enum source is exact values and needs no format."""
    given, needed = _deref(source), _deref(target)
    if given is None or needed is None or depth > 8 or _enum(given) is not None:
        return []
    wanted = _format(needed)
    if wanted is not None and _format(given) != wanted:
        return [(where, wanted)]
    gaps: list[tuple[str, str]] = []
    theirs, ours = given.schema.get("properties"), needed.schema.get("properties")
    if isinstance(theirs, dict) and isinstance(ours, dict):
        for key in ours.keys() & theirs.keys():
            gaps += _format_gaps(
                _Typed(theirs[key], given.root), _Typed(ours[key], needed.root), f"{where}.{key}", depth + 1
            )
    if isinstance(given.schema.get("items"), dict) and isinstance(needed.schema.get("items"), dict):
        gaps += _format_gaps(
            _Typed(given.schema["items"], given.root),
            _Typed(needed.schema["items"], needed.root),
            f"{where}[]",
            depth + 1,
        )
    return gaps


def _enum(typed: _Typed | None) -> list[Any] | None:
    resolved = _deref(typed) if typed is not None else None
    if resolved is None or not isinstance(resolved.schema, dict):
        return None
    if "const" in resolved.schema:
        return [resolved.schema["const"]]
    values = resolved.schema.get("enum")
    return list(values) if isinstance(values, list) else None


def _child(typed: _Typed, segment: Segment) -> tuple[_Typed | None, str | None]:
    """The schema of `segment` in `typed`: (schema, None); (None, None) if unknown; (None, why) if absent."""
    resolved = _deref(typed)
    if resolved is None or not isinstance(resolved.schema, dict):
        return None, None
    schema, root = resolved.schema, resolved.root
    types = _types(resolved)
    if isinstance(segment, str):
        if types is not None and "object" not in types:
            return None, f"is {_a(types)}, it has no field {segment!r}"
        properties = schema.get("properties", {})
        if segment in properties:
            return _Typed(properties[segment], root), None
        for pattern, sub in schema.get("patternProperties", {}).items():
            if re.search(pattern, segment):
                return _Typed(sub, root), None
        extra = schema.get("additionalProperties", True)
        if extra is False:
            fields = ", ".join(list(properties)[:12]) or "none"
            return None, f"has no field {segment!r}{_suggest(segment, properties)} (fields: {fields})"
        return (_Typed(extra, root), None) if isinstance(extra, dict) else (None, None)
    if types is not None and "array" not in types:
        return None, f"is {_a(types)}, not a list"
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and segment < len(prefix):
        return _Typed(prefix[segment], root), None
    items = schema.get("items")
    if isinstance(items, dict):
        return _Typed(items, root), None
    if items is False:
        return None, f"has no item [{segment}]"
    return None, None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list | tuple) else "object"


def _compatible(source: set[str], wanted: set[str]) -> bool:
    numbers = {"integer", "number"}
    return any(s in wanted or (s in numbers and wanted & numbers) for s in source)


def _a(types: Iterable[str]) -> str:
    names = sorted(types)
    words = [("an " if t[0] in "aeiou" else "a ") + t for t in names]
    words = [w.replace("a null", "null") for w in words]
    return " or ".join(words)
