"""Collaboration steps: agents working together inside one workflow step, on the same engine as every step
(auth, policy, guardrails, records, events and durability are those of any agent call).

A step names one `agent`, or one of these instead:

- `graph` (a state machine, as in LangGraph): `nodes` are agents; after a node runs, its `update` writes
  into the shared `state` (its whole output under its id when `update` is left out) and the first of its
  `edges` whose `when` holds picks the next node, `end` ending the graph. A node without edges ends it; a
  node whose edges all fail fails the step. Edges may loop: a graph that can loop must set `max_visits`,
  how often any one node may run; `on_limit` says whether reaching it ends the graph (`end`) or fails
  the step (`fail`, the default). Output: `{state, path, ended, usage}`.
- `team` (a hierarchical crew, as in CrewAI): the `manager` agent splits the `goal` into tasks for the
  `members` (shown their catalogue descriptions), the tasks run (in parallel where they do not depend on
  each other), the manager reviews the results and may send tasks back with feedback (`max_revisions`
  rounds), then writes the answer. Output: `{answer, tasks, usage}`.
- `chat` (a group chat, as in AutoGen): `participants` take turns on a shared transcript, in order
  (`round_robin`) or as a `selector` agent picks, until a message holds `until.phrase`, a speaker's output
  is valid against `until.answer` (a JSON Schema), or `max_turns` pass (`on_limit`: `end`, the default,
  or `fail`). Output: `{answer, transcript, ended_by, usage}`.

Every collaboration step is bounded by `limits`: agent calls, tokens and seconds; reaching one fails the
step. Each agent call is a turn, recorded with its input, output (and a graph's state) and streamed as
`turn.started` / `turn.finished` events.

The manager and the selector answer to contracts (`MANAGER`, `SELECTOR`) that `dag.validate` checks
against their schemas: the manager gets `phase` (`plan`, `review`, `answer`), `goal`, `members` and, after
planning, `tasks` (with their outputs), and answers with `tasks`, `reviews` or `answer`; the selector gets
`topic`, `transcript` and `candidates` and answers with `next_speaker`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.spec import Name
from dag.refs import NO_SCOPE, Scope

STEP_ID = r"^[a-z][a-z0-9_]{0,62}$"
END = "end"
Kind = Literal["graph", "team", "chat"]
OnLimit = Literal["fail", "end"]
Inputs = dict[Annotated[str, Field(min_length=1, max_length=200)], Any]

STATE: Scope = frozenset({"state"})
NODE_RESULT: Scope = frozenset({"state", "output"})
TASK: Scope = frozenset({"task"})
CHAT: Scope = frozenset({"chat"})
SAID: Scope = frozenset({"chat", "output"})
NAMES: Scope = STATE | NODE_RESULT | TASK | CHAT  # every name a collaboration step may define

# The roles' contracts: properties their schemas must have (input, output).
MANAGER = (("phase", "goal", "members", "tasks"), ("tasks", "reviews", "answer"))
SELECTOR = (("topic", "transcript", "candidates"), ("next_speaker",))
TRANSCRIPT_CHARS = 12_000  # `chat.transcript_text` keeps the end of a longer transcript
MESSAGE_CHARS = 4_000  # one message on the transcript


class Spec(BaseModel):
    """A part of a workflow definition: frozen, and no field it does not declare."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Limits(Spec):
    """What one collaboration step may spend; reaching any limit fails the step."""

    max_calls: int = Field(default=50, ge=1, le=500, description="agent calls, the manager's included")
    max_tokens: int = Field(default=200_000, ge=100, le=10_000_000, description="input and output tokens")
    max_seconds: float = Field(default=600, ge=1, le=3600, description="wall time of the whole step")


class Node(Spec):
    id: Annotated[str, Field(pattern=STEP_ID)]
    agent: Name
    input: Inputs = Field(default_factory=dict, max_length=200)
    update: dict[Annotated[str, Field(pattern=STEP_ID)], Any] | None = Field(
        default=None, max_length=100, description="state key -> value; default: {<node id>: output}"
    )


class Edge(Spec):
    from_: Annotated[str, Field(pattern=STEP_ID)] = Field(alias="from")
    to: Annotated[str, Field(pattern=STEP_ID)]
    when: str | None = Field(default=None, min_length=1, max_length=2000)


class Graph(Spec):
    state: dict[Annotated[str, Field(pattern=STEP_ID)], Any] = Field(
        default_factory=dict, max_length=100, description="the shared state's keys and first values"
    )
    start: Annotated[str, Field(pattern=STEP_ID)]
    nodes: list[Node] = Field(min_length=1, max_length=50)
    edges: list[Edge] = Field(default_factory=list, max_length=200)
    max_visits: int | None = Field(default=None, ge=1, le=100, description="runs of any one node")
    on_limit: OnLimit = "fail"

    def node(self, id: str) -> Node:
        return next(n for n in self.nodes if n.id == id)

    def state_keys(self) -> list[str]:
        """Every key the state can hold: the declared ones, then those written by default (node ids)."""
        keys = list(self.state)
        for node in self.nodes:
            if node.update is None and node.id not in keys:
                keys.append(node.id)
        return keys

    def edges_from(self, node: str) -> list[tuple[int, Edge]]:
        """The node's outgoing edges in order, each with its index in `edges`."""
        return [(i, e) for i, e in enumerate(self.edges) if e.from_ == node]

    def reachable(self) -> set[str]:
        """The nodes (and `end`) some path from `start` reaches."""
        seen, frontier = {self.start}, [self.start]
        while frontier:
            for _, edge in self.edges_from(frontier.pop()):
                if edge.to not in seen:
                    seen.add(edge.to)
                    frontier.append(edge.to)
        return seen

    def loops(self) -> bool:
        from dag.spec import find_cycles

        ids = {n.id for n in self.nodes}
        return bool(find_cycles({n: [e.to for _, e in self.edges_from(n) if e.to in ids] for n in ids}))


class Member(Spec):
    agent: Name
    input: Inputs = Field(default_factory=dict, max_length=200)


class Team(Spec):
    goal: str = Field(min_length=1, max_length=5000)
    manager: Name
    members: list[Member] = Field(min_length=1, max_length=20)
    max_tasks: int = Field(default=8, ge=1, le=50)
    max_revisions: int = Field(default=1, ge=0, le=3, description="review rounds that may send tasks back")


class Participant(Spec):
    agent: Name
    input: Inputs = Field(default_factory=dict, max_length=200)
    say: str | None = Field(
        default=None, max_length=2000, description="what goes on the transcript; default: the whole output"
    )


class Until(Spec):
    phrase: str | None = Field(default=None, min_length=1, max_length=200)
    answer: dict[str, Any] | None = Field(
        default=None, description="JSON Schema: a speaker's output valid against it ends the chat"
    )


class Chat(Spec):
    topic: str = Field(min_length=1, max_length=5000)
    participants: list[Participant] = Field(min_length=2, max_length=12)
    speaker: Literal["round_robin", "selector"] = "round_robin"
    selector: Name | None = None
    allow_repeat: bool = Field(default=False, description="the selector may pick the last speaker again")
    until: Until = Field(default_factory=Until)
    max_turns: int = Field(ge=1, le=100, description="speaker turns")
    on_limit: OnLimit = "end"

    @model_validator(mode="after")
    def _selector(self) -> Self:
        if self.speaker == "selector" and self.selector is None:
            raise ValueError("speaker: selector needs a selector agent")
        if self.speaker == "round_robin" and self.selector is not None:
            raise ValueError("a selector agent is used only with speaker: selector")
        return self


Pattern = Graph | Team | Chat


def kind_of(pattern: Pattern) -> Kind:
    return "graph" if isinstance(pattern, Graph) else "team" if isinstance(pattern, Team) else "chat"


def agent_fields(pattern: Pattern) -> list[tuple[str, str]]:
    """(pointer below the pattern, agent name) of every agent it names, in document order."""
    if isinstance(pattern, Graph):
        return [(f"/nodes/{i}/agent", n.agent) for i, n in enumerate(pattern.nodes)]
    if isinstance(pattern, Team):
        members = [(f"/members/{i}/agent", m.agent) for i, m in enumerate(pattern.members)]
        return [("/manager", pattern.manager), *members]
    found = [(f"/participants/{i}/agent", p.agent) for i, p in enumerate(pattern.participants)]
    return found + ([("/selector", pattern.selector)] if pattern.selector else [])


def agents_of(pattern: Pattern) -> list[str]:
    """Every agent the pattern calls, each once, in document order."""
    return list(dict.fromkeys(name for _, name in agent_fields(pattern)))


class Template(NamedTuple):
    """A value that may hold references: where it is below the pattern, the names in scope there, whether
    it is a condition, and the agent whose output `output` means there (None where `output` is not in
    scope)."""

    where: str
    value: Any
    scope: Scope
    condition: bool = False
    producer: str | None = None


def templates(pattern: Pattern) -> Iterator[Template]:
    """Every value of the pattern that may hold references."""
    if isinstance(pattern, Graph):
        yield Template("/state", pattern.state, NO_SCOPE)
        agents = {n.id: n.agent for n in pattern.nodes}
        for i, node in enumerate(pattern.nodes):
            yield Template(f"/nodes/{i}/input", node.input, STATE)
            if node.update is not None:
                yield Template(f"/nodes/{i}/update", node.update, NODE_RESULT, producer=node.agent)
        for i, edge in enumerate(pattern.edges):
            if edge.when is not None:
                yield Template(f"/edges/{i}/when", edge.when, NODE_RESULT, True, agents.get(edge.from_))
    elif isinstance(pattern, Team):
        yield Template("/goal", pattern.goal, NO_SCOPE)
        for i, member in enumerate(pattern.members):
            yield Template(f"/members/{i}/input", member.input, TASK)
    else:
        yield Template("/topic", pattern.topic, NO_SCOPE)
        for i, participant in enumerate(pattern.participants):
            yield Template(f"/participants/{i}/input", participant.input, CHAT)
            if participant.say is not None:
                yield Template(f"/participants/{i}/say", participant.say, SAID, producer=participant.agent)


_USAGE = {
    "type": "object",
    "properties": {"calls": {"type": "integer"}, "tokens": {"type": "integer"}},
    "additionalProperties": False,
}
_TEXT = {"type": "string"}


def output_schema(pattern: Pattern, answer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON Schema of the step's output; `answer` is the schema of a team manager's `answer`."""
    if isinstance(pattern, Graph):
        properties: dict[str, Any] = {
            "state": {
                "type": "object",
                "properties": {key: {} for key in pattern.state_keys()},
                "additionalProperties": False,
            },
            "path": {"type": "array", "items": {"type": "string", "enum": [n.id for n in pattern.nodes]}},
            "ended": {"type": "string", "enum": ["end", "limit"]},
        }
    elif isinstance(pattern, Team):
        task = {
            "type": "object",
            "properties": {
                "id": _TEXT,
                "assignee": {"type": "string", "enum": [m.agent for m in pattern.members]},
                "description": _TEXT,
                "output": {},
                "revisions": {"type": "integer"},
                "feedback": {"type": ["string", "null"]},
            },
            "additionalProperties": False,
        }
        properties = {"answer": answer or {}, "tasks": {"type": "array", "items": task}}
    else:
        message = {
            "type": "object",
            "properties": {
                "turn": {"type": "integer"},
                "speaker": {"type": "string", "enum": [p.agent for p in pattern.participants]},
                "message": _TEXT,
            },
            "additionalProperties": False,
        }
        properties = {
            "answer": pattern.until.answer if pattern.until.answer is not None else {},
            "transcript": {"type": "array", "items": message},
            "ended_by": {"type": "string", "enum": ["phrase", "answer", "max_turns"]},
        }
    return {"type": "object", "properties": {**properties, "usage": _USAGE}, "additionalProperties": False}
