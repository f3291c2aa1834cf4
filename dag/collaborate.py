"""Running collaboration steps (`dag.patterns`): the graph, team and chat loops over one `Session`.

The session makes each agent call a numbered turn: it records it, streams its events and counts it
against the step's limits. Given the same agent outputs, each loop takes the same path, so a step run
again after a crash replays its recorded turns (same seq, agent, role and input) instead of calling the
agents again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from agents.schema import CompiledSchema
from dag.patterns import END, MESSAGE_CHARS, NODE_RESULT, TRANSCRIPT_CHARS, Chat, Graph, Node, Pattern, Team
from dag.refs import ExpressionError, RenderError, evaluate, render
from dag.spec import topological_layers

Observe = Callable[[Any], Any]  # a turn's output -> what the turn records as `state`
TurnCall = Callable[[int, str, str, dict[str, Any], Observe | None], Coroutine[Any, Any, tuple[Any, Any]]]
"""(seq, role, agent, input, observe) -> (the agent's output, what `observe` made of it): one turn."""


class CollaborationError(Exception):
    """The step fails: `kind` is the error type (`bad_plan`, `loop_limit`, `call_limit`, or a failed call's
    own type, ...)."""

    def __init__(self, kind: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details

    def error(self) -> dict[str, Any]:
        return {"type": self.kind, "message": self.message, **self.details}


@dataclass(slots=True)
class Usage:
    calls: int = 0
    tokens: int = 0

    def public(self) -> dict[str, int]:
        return {"calls": self.calls, "tokens": self.tokens}


@dataclass(slots=True)
class Session:
    """One collaboration step in progress. `call` makes one turn, raising `CollaborationError` when it
    fails; `roster` holds the members' descriptions."""

    call: TurnCall
    context: dict[str, Any]
    roster: dict[str, str] = field(default_factory=dict)  # agent -> description
    seq: int = 0

    def reserve(self) -> int:
        """The next turn's number: taken before a turn starts, so that parallel turns are numbered in a
        fixed order."""
        self.seq += 1
        return self.seq

    async def turn(self, role: str, agent: str, payload: dict[str, Any]) -> Any:
        """The agent's output."""
        output, _ = await self.call(self.reserve(), role, agent, payload, None)
        return output

    async def observed(
        self, role: str, agent: str, payload: dict[str, Any], observe: Observe
    ) -> tuple[Any, Any]:
        """The agent's output and what `observe` made of it, which the turn records as its state."""
        return await self.call(self.reserve(), role, agent, payload, observe)


async def collaborate(pattern: Pattern, session: Session) -> dict[str, Any]:
    """Run the pattern; its output (without `usage`, which the caller adds)."""
    if isinstance(pattern, Graph):
        return await run_graph(pattern, session)
    if isinstance(pattern, Team):
        return await run_team(pattern, session)
    return await run_chat(pattern, session)


def _render(value: Any, context: Mapping[str, Any], where: str) -> Any:
    try:
        return render(value, context)
    except RenderError as exc:
        raise CollaborationError("reference_error", f"{where}: {exc}") from None


def _holds(when: str, context: Mapping[str, Any], where: str, scope: frozenset[str]) -> bool:
    try:
        return evaluate(when, context, item=None, scope=scope)
    except (RenderError, ExpressionError) as exc:
        raise CollaborationError("condition_error", f"{where}: {exc}") from None


# -- graph -----------------------------------------------------------------------------------------


async def run_graph(graph: Graph, session: Session) -> dict[str, Any]:
    state: dict[str, Any] = dict.fromkeys(graph.state_keys())
    state.update(_render(graph.state, session.context, "graph.state"))
    bound = graph.max_visits or 1
    path: list[str] = []
    current, ended = graph.start, "end"
    while current != END:
        if path.count(current) >= bound:
            if graph.on_limit == "end":
                ended = "limit"
                break
            raise CollaborationError(
                "loop_limit", f"node {current!r} would run more than max_visits ({bound}) times", node=current
            )
        node = graph.node(current)
        payload = _render(node.input, {**session.context, "state": state}, f"node {node.id} input")
        updated = partial(updated_state, node, state, session.context)
        output, state = await session.observed(node.id, node.agent, payload, updated)
        path.append(node.id)
        current = next_node(graph, node.id, {**session.context, "state": state, "output": output})
    return {"state": state, "path": path, "ended": ended}


def updated_state(node: Node, state: dict[str, Any], context: dict[str, Any], output: Any) -> dict[str, Any]:
    """The state after the node: its `update` applied, or its output under its id."""
    if node.update is None:
        return {**state, node.id: output}
    scoped = {**context, "state": state, "output": output}
    return {**state, **_render(node.update, scoped, f"node {node.id} update")}


def next_node(graph: Graph, node: str, context: Mapping[str, Any]) -> str:
    outgoing = graph.edges_from(node)
    if not outgoing:
        return END
    for i, edge in outgoing:
        if edge.when is None or _holds(edge.when, context, f"edges[{i}].when", NODE_RESULT):
            return edge.to
    raise CollaborationError("no_edge", f"no edge from node {node!r} holds", node=node)


# -- team ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Task:
    id: str
    assignee: str
    description: str
    depends_on: list[str]
    output: Any = None
    revisions: int = 0
    feedback: str | None = None

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "depends_on"}


async def run_team(team: Team, session: Session) -> dict[str, Any]:
    goal = str(_render(team.goal, session.context, "team.goal"))
    members = [{"name": m.agent, "description": session.roster.get(m.agent, "")} for m in team.members]
    brief = {"goal": goal, "members": members}
    plan = await session.turn("plan", team.manager, {"phase": "plan", **brief})
    tasks, problems = _tasks(plan, team)
    if problems:  # the manager is told what was wrong, once
        plan = await session.turn("plan", team.manager, {"phase": "plan", **brief, "problems": problems})
        tasks, problems = _tasks(plan, team)
        if problems:
            raise CollaborationError(
                "bad_plan", f"the manager's plan is not usable: {problems[0]}", problems=problems
            )
    by_id = {t.id: t for t in tasks}
    layers, _ = topological_layers({t.id: t.depends_on for t in tasks})
    for layer in layers:
        await _perform(team, session, goal, [by_id[i] for i in layer], by_id)
    for _ in range(team.max_revisions):
        review = await session.turn(
            "review", team.manager, {"phase": "review", **brief, "tasks": _results(tasks)}
        )
        sent_back = _sent_back(review, by_id)
        if not sent_back:
            break
        for task, feedback in sent_back:
            task.feedback, task.revisions = feedback, task.revisions + 1
        await _perform(team, session, goal, [task for task, _ in sent_back], by_id)
    final = await session.turn("answer", team.manager, {"phase": "answer", **brief, "tasks": _results(tasks)})
    if not isinstance(final, dict) or final.get("answer") is None:
        raise CollaborationError("no_answer", "the manager's answer has no `answer`")
    return {"answer": final["answer"], "tasks": _results(tasks)}


def _tasks(plan: Any, team: Team) -> tuple[list[_Task], list[str]]:
    """The plan's tasks, and what makes it unusable (nothing when it is sound)."""
    raw = plan.get("tasks") if isinstance(plan, dict) else None
    if not isinstance(raw, list) or not raw:
        return [], ["the plan has no tasks"]
    if len(raw) > team.max_tasks:
        return [], [f"{len(raw)} tasks, at most {team.max_tasks}"]
    names = {m.agent for m in team.members}
    tasks: list[_Task] = []
    problems: list[str] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            problems.append(f"task {i + 1} is not an object")
            continue
        task_id = str(item.get("id") or f"t{i + 1}")
        assignee = str(item.get("assignee", "")).strip()
        needs = item.get("depends_on") or []
        if assignee not in names:
            problems.append(f"task {task_id!r} is assigned to {assignee!r}, who is not a member")
        if not str(item.get("description", "")).strip():
            problems.append(f"task {task_id!r} has no description")
        if not isinstance(needs, list):
            problems.append(f"task {task_id!r}: depends_on is not a list")
            needs = []
        tasks.append(_Task(task_id, assignee, str(item.get("description", "")), [str(n) for n in needs]))
    ids = [t.id for t in tasks]
    problems += [f"task id {i!r} is used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for task in tasks:
        problems += [
            f"task {task.id!r} depends on unknown task {n!r}" for n in task.depends_on if n not in ids
        ]
    if not problems:
        _, left = topological_layers({t.id: t.depends_on for t in tasks})
        if left:
            problems.append(f"tasks depend on each other in a cycle: {', '.join(sorted(left))}")
    return tasks, problems


async def _perform(
    team: Team, session: Session, goal: str, tasks: list[_Task], by_id: dict[str, _Task]
) -> None:
    """Run tasks in parallel, each on its member's input."""
    members = {m.agent: m for m in team.members}
    calls: list[Coroutine[Any, Any, tuple[Any, Any]]] = []
    for task in tasks:
        context = [
            {"task": n, "assignee": by_id[n].assignee, "output": by_id[n].output} for n in task.depends_on
        ]
        scoped = {
            **session.context,
            "task": {
                "id": task.id,
                "description": task.description,
                "goal": goal,
                "feedback": task.feedback,
                "context": context,
            },
        }
        payload = _render(members[task.assignee].input, scoped, f"task {task.id} input")
        calls.append(session.call(session.reserve(), f"task:{task.id}", task.assignee, payload, None))
    try:  # one task failing stops the others
        async with asyncio.TaskGroup() as group:
            running = [group.create_task(c) for c in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    for task, done in zip(tasks, running, strict=True):
        task.output, _ = done.result()


def _results(tasks: list[_Task]) -> list[dict[str, Any]]:
    return [t.public() for t in tasks]


def _sent_back(review: Any, by_id: dict[str, _Task]) -> list[tuple[_Task, str]]:
    """The tasks the review rejects (unknown ids are ignored), each with its feedback."""
    reviews = review.get("reviews") if isinstance(review, dict) else None
    found: dict[str, tuple[_Task, str]] = {}
    for item in reviews if isinstance(reviews, list) else []:
        if isinstance(item, dict) and item.get("accepted") is False and str(item.get("task")) in by_id:
            found.setdefault(str(item["task"]), (by_id[str(item["task"])], str(item.get("feedback") or "")))
    return list(found.values())


# -- chat ------------------------------------------------------------------------------------------


async def run_chat(chat: Chat, session: Session) -> dict[str, Any]:
    topic = str(_render(chat.topic, session.context, "chat.topic"))
    answer_schema = CompiledSchema(chat.until.answer) if chat.until.answer is not None else None
    names = [p.agent for p in chat.participants]
    transcript: list[dict[str, Any]] = []
    last: str | None = None
    for turn in range(1, chat.max_turns + 1):
        state = _chat_state(topic, transcript, turn)
        speaker = await _next_speaker(chat, session, state, names, last, turn)
        participant = chat.participants[names.index(speaker)]
        payload = _render(participant.input, {**session.context, "chat": state}, f"{speaker} input")
        output = await session.turn("speaker", speaker, payload)
        said = output
        if participant.say is not None:
            said = _render(
                participant.say, {**session.context, "chat": state, "output": output}, f"{speaker} say"
            )
        message = _text(said)[:MESSAGE_CHARS]
        transcript.append({"turn": turn, "speaker": speaker, "message": message})
        last = speaker
        if answer_schema is not None and not answer_schema.errors(output):
            return {"answer": output, "transcript": transcript, "ended_by": "answer"}
        if chat.until.phrase is not None and chat.until.phrase in message:
            return {"answer": None, "transcript": transcript, "ended_by": "phrase"}
    if chat.on_limit == "fail":
        raise CollaborationError("turn_limit", f"the chat did not end within max_turns ({chat.max_turns})")
    return {"answer": None, "transcript": transcript, "ended_by": "max_turns"}


def _chat_state(topic: str, transcript: list[dict[str, Any]], turn: int) -> dict[str, Any]:
    text = "\n".join(f"{m['speaker']}: {m['message']}" for m in transcript)
    return {
        "topic": topic,
        "turn": turn,
        "transcript": list(transcript),
        "transcript_text": text[-TRANSCRIPT_CHARS:],
        "last": transcript[-1]["message"] if transcript else None,
    }


async def _next_speaker(
    chat: Chat, session: Session, state: dict[str, Any], names: list[str], last: str | None, turn: int
) -> str:
    """Round robin; or the selector's pick among the candidates, the next in order when it picks none."""
    in_order = names[(turn - 1) % len(names)]
    if chat.speaker == "round_robin" or chat.selector is None:
        return in_order
    candidates = [n for n in names if chat.allow_repeat or n != last]
    fallback = next(n for n in names[names.index(in_order) :] + names if n in candidates)

    def choice(output: Any) -> dict[str, Any]:  # recorded as the selector's state
        picked = str(output.get("next_speaker", "")).strip() if isinstance(output, dict) else ""
        return {
            "next_speaker": picked if picked in candidates else fallback,
            "fallback": picked not in candidates,
        }

    offered = [{"name": n, "description": session.roster.get(n, "")} for n in candidates]
    payload = {"topic": state["topic"], "transcript": state["transcript"], "candidates": offered}
    _, chosen = await session.observed("selector", chat.selector, payload, choice)
    return str(chosen["next_speaker"])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
