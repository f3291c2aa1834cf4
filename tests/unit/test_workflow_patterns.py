"""Graph, team and chat steps: declaration, validation before a run, and every branch of running them on
scripted agents (loop bounds, termination, review, fallbacks, limits, replay and cancellation)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from agents import Catalog
from agents.errors import DefinitionError
from dag import Workflow, validate
from dag.engine import Caller, RunRecord, StepOutcome, StepRunner, Turn
from serve_app.routes.workflows import run_plan

WRITER = "marketing_content_writer"
VOICE = "marketing_brand_voice_checker"
CLAIMS = "marketing_claims_substantiation_reviewer"
MANAGER = "project_team_manager"
MODERATOR = "project_discussion_moderator"
POSITIONING = "marketing_positioning_statement_writer"
PRICING = "product_pricing_packaging_advisor"
QUESTIONS = "strategy_board_question_anticipator"

Script = Callable[[dict[str, Any]], Any]  # an agent's input -> its output (or an exception to answer 503)


def graph_step(**overrides: Any) -> dict[str, Any]:
    graph = {
        "state": {"draft": None, "verdict": None, "edits": []},
        "start": "write",
        "nodes": [
            {
                "id": "write",
                "agent": WRITER,
                "input": {"topic": "${{ input.topic }} ${{ state.edits }}", "content_type": "email"},
                "update": {"draft": "${{ output.body }}"},
            },
            {
                "id": "voice",
                "agent": VOICE,
                "input": {"copy": "${{ state.draft }}", "brand_guidelines": "plain"},
                "update": {"verdict": "${{ output.verdict }}", "edits": "${{ output.edits }}"},
            },
            {"id": "claims", "agent": CLAIMS, "input": {"copy": "${{ state.draft }}", "channel": "web"}},
        ],
        "edges": [
            {"from": "write", "to": "voice"},
            {"from": "voice", "to": "write", "when": "state.verdict == 'rewrite'"},
            {"from": "voice", "to": "claims", "when": "state.verdict != 'rewrite'"},
        ],
        "max_visits": 3,
        **overrides,
    }
    return {"id": "copy", "graph": graph}


def team_step(**overrides: Any) -> dict[str, Any]:
    brief = "${{ task.description }} / feedback: ${{ task.feedback }} / after: ${{ task.context }}"
    team = {
        "goal": "Launch ${{ input.topic }}",
        "manager": MANAGER,
        "members": [
            {"agent": POSITIONING, "input": {"product_facts": brief}},
            {"agent": PRICING, "input": {"product_summary": brief}},
        ],
        **overrides,
    }
    return {"id": "team", "team": team}


def chat_step(**overrides: Any) -> dict[str, Any]:
    turn = "${{ chat.topic }} :: ${{ chat.transcript_text }}"
    chat = {
        "topic": "Position ${{ input.topic }}",
        "participants": [
            {
                "agent": POSITIONING,
                "input": {"product_facts": turn},
                "say": "${{ output.positioning_statement }}",
            },
            {"agent": PRICING, "input": {"product_summary": turn}, "say": "${{ output.validation_steps }}"},
            {"agent": QUESTIONS, "input": {"board_material": turn}},
        ],
        "max_turns": 4,
        **overrides,
    }
    return {"id": "chat", "chat": chat}


def workflow(*steps: dict[str, Any]) -> Workflow:
    return Workflow.from_data(
        {
            "id": "together",
            "description": "agents working together",
            "input_schema": {
                "type": "object",
                "required": ["topic"],
                "properties": {"topic": {"type": "string"}},
            },
            "steps": list(steps),
        }
    )


def problems(catalog: Catalog, *steps: dict[str, Any]) -> list[str]:
    return [f"{p.field}: {p.message}" for p in validate(workflow(*steps), catalog)]


# -- declaration and validation ----------------------------------------------------------------------


def test_a_step_is_exactly_one_kind_and_only_agent_steps_fan_out() -> None:
    both = {**graph_step(), "agent": WRITER}
    with pytest.raises(DefinitionError, match="exactly one of agent, graph, team or chat"):
        workflow(both)
    with pytest.raises(DefinitionError, match="exactly one"):
        workflow({"id": "nothing"})
    fanned = {**team_step(), "for_each": {"items": "${{ input.topic }}"}}
    with pytest.raises(DefinitionError, match="cannot fan out"):
        workflow(fanned)
    with pytest.raises(DefinitionError, match="selector agent"):
        workflow(chat_step(speaker="selector"))
    with pytest.raises(DefinitionError) as raised:
        workflow({"id": "chat", "chat": {k: v for k, v in chat_step()["chat"].items() if k != "max_turns"}})
    assert [e.path for e in raised.value.errors] == ["/steps/0/chat/max_turns"]


def test_sound_patterns_pass_and_their_dependencies_are_read(catalog: Catalog) -> None:
    brief = {
        "id": "brief",
        "agent": WRITER,
        "input": {"topic": "${{ input.topic }}", "content_type": "email"},
    }
    step = graph_step(state={"draft": "${{ steps.brief.output.body }}", "verdict": None, "edits": []})
    assert problems(catalog, brief, step, team_step(), chat_step()) == []
    wf = workflow(brief, step, team_step(), chat_step())
    assert wf.layers() == [["brief", "team", "chat"], ["copy"]]
    assert wf.step("copy").agents() == [WRITER, VOICE, CLAIMS]
    assert wf.step("team").agents() == [MANAGER, POSITIONING, PRICING]


def test_a_graph_that_can_loop_needs_a_bound_and_its_names_are_checked(catalog: Catalog) -> None:
    nodes = graph_step()["graph"]["nodes"]
    broken = copy.deepcopy(nodes)
    broken[0]["update"] = {"draft": "${{ output.bodyy }}", "undeclared": "x"}
    broken[1]["input"]["copy"] = "${{ state.drafts }}"
    broken.append({"id": "orphan", "agent": CLAIMS, "input": {"copy": "x", "channel": "web"}})
    found = problems(
        catalog,
        graph_step(
            nodes=broken,
            max_visits=None,
            start="begin",
            edges=[*graph_step()["graph"]["edges"], {"from": "voice", "to": "nowhere"}],
        ),
    )
    base = "/steps/0/graph"
    assert any(p.startswith(f"{base}/max_visits: the edges form a loop") for p in found), found
    assert any(p.startswith(f"{base}/start: unknown node 'begin'") for p in found), found
    assert any(p.startswith(f"{base}/edges/3/to: unknown node 'nowhere'") for p in found), found
    undeclared = "the update writes 'undeclared', which graph.state does not declare"
    assert f"{base}/nodes/0/update/undeclared: {undeclared}" in found
    assert any("output.bodyy" in p and "did you mean 'body'" in p for p in found), found
    assert any("state.drafts: the state has no key 'drafts'; did you mean 'draft'" in p for p in found), found
    assert not any("never reached" in p for p in found)  # not said while the start is unknown
    found = problems(catalog, graph_step(nodes=broken))
    assert any(p.startswith(f"{base}/nodes/3: node 'orphan' is never reached from 'write'") for p in found), (
        found
    )


def test_names_are_only_what_the_place_defines_and_inputs_are_checked(catalog: Catalog) -> None:
    team = team_step()
    team["team"]["members"][0]["input"] = {"product_facts": "${{ state.draft }}", "colour": "red"}
    found = problems(catalog, team)
    assert any("unknown name 'state', expected input, steps, task" in p for p in found), found
    assert any("agent marketing_positioning_statement_writer has no input 'colour'" in p for p in found), (
        found
    )
    chat = chat_step()
    chat["chat"]["participants"][1]["input"] = {"product_summary": "${{ chat.speaker }}"}
    chat["chat"]["participants"][2]["input"] = {}
    found = problems(catalog, chat)
    assert any("chat has no field 'speaker'" in p for p in found), found
    assert any("/participants/2/input: missing required input 'board_material'" in p for p in found), found


def test_roles_must_fit_their_contracts_and_chats_their_limits(catalog: Catalog) -> None:
    found = problems(catalog, team_step(manager=WRITER))
    assert any(
        p.startswith("/steps/0/team/manager: agent marketing_content_writer cannot manage a team")
        for p in found
    )
    chat = chat_step(speaker="selector", selector=VOICE, max_turns=30, until={"answer": {"type": "objekt"}})
    found = problems(catalog, chat)
    assert any(
        "cannot select speakers: its input_schema lacks 'topic', 'transcript', 'candidates'" in p
        for p in found
    )
    assert any(p.startswith("/steps/0/limits/max_calls: max_calls (50) is below the 60 calls") for p in found)
    assert any(p.startswith("/steps/0/chat/until/answer") for p in found), found
    found = problems(catalog, team_step(manager="project_team_managr"))
    assert any("unknown agent 'project_team_managr'; did you mean 'project_team_manager'" in p for p in found)


def test_references_into_a_pattern_output_follow_its_shape(catalog: Catalog) -> None:
    after = {
        "id": "after",
        "agent": CLAIMS,
        "input": {
            "copy": "${{ steps.copy.output.state.draft }} ${{ steps.copy.output.state.nope }}",
            "channel": "web",
        },
    }
    found = problems(catalog, graph_step(), after)
    assert len(found) == 1 and "has no field 'nope'" in found[0], found
    summary = {"copy": "${{ steps.team.output.answer.summary }}", "channel": "web"}
    assert problems(catalog, team_step(), {"id": "after", "agent": CLAIMS, "input": summary}) == []


# -- running, on scripted agents ---------------------------------------------------------------------


@dataclass
class MemoryLog:
    """The run log in memory: enough of `dag.engine.RunLog` for one run."""

    record: RunRecord
    turns_: dict[tuple[str, int], Turn] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    steps: dict[str, StepOutcome] = field(default_factory=dict)

    async def load(self, run_id: str) -> RunRecord:
        return self.record

    async def unfinished(self) -> list[str]:
        return []

    async def run_started(self, run_id: str) -> None: ...

    async def step_started(self, run_id: str, step: str, attempt: int) -> None: ...

    async def step_finished(self, run_id: str, outcome: StepOutcome) -> None:
        self.steps[outcome.step] = outcome

    async def run_finished(self, run_id: str, status: Any, output: Any, error: Any) -> None: ...

    async def event(self, run_id: str, kind: str, data: Mapping[str, Any]) -> None:
        self.events.append((kind, dict(data)))

    async def turn_started(self, run_id: str, turn: Turn) -> None:
        self.turns_[turn.step, turn.seq] = turn

    async def turn_finished(self, run_id: str, turn: Turn) -> None:
        self.turns_[turn.step, turn.seq] = turn

    async def turns(self, run_id: str, step: str) -> list[Turn]:
        return [t for (s, _), t in sorted(self.turns_.items()) if s == step]

    def recorded(self, step: str) -> list[Turn]:
        return [t for (s, _), t in sorted(self.turns_.items()) if s == step]


@dataclass
class Agents:
    """Scripted agents: each answers with its script, in turn; records every call."""

    scripts: dict[str, Script]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    latency: float = 0.0
    tokens: int = 10
    called: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(
        self, agent: str, category: str, input: dict[str, Any], caller: Caller, request_id: str
    ) -> tuple[int, dict[str, Any]]:
        self.calls.append((agent, input))
        self.called.set()
        await asyncio.sleep(self.latency)
        answer = self.scripts[agent](input)
        if isinstance(answer, Exception):
            return 503, {"error": {"type": "service_unavailable", "message": str(answer)}}
        return 200, {"output": answer, "usage": {"input_tokens": self.tokens, "output_tokens": self.tokens}}

    def of(self, agent: str) -> list[dict[str, Any]]:
        return [i for a, i in self.calls if a == agent]


def answers(*outputs: Any) -> Script:
    """One output per call, the last repeated."""
    left = list(outputs)
    return lambda _: left.pop(0) if len(left) > 1 else left[0]


async def run(
    catalog: Catalog, step: dict[str, Any], agents: Agents, log: MemoryLog | None = None, **limits: Any
) -> tuple[StepOutcome, MemoryLog]:
    if limits:
        step = {**step, "limits": limits}
    wf = workflow(step)
    record = RunRecord(
        "run-1",
        Caller("acme", "user:1"),
        wf.model_dump(mode="json", by_alias=True, exclude_none=True),
        run_plan(wf, catalog),
        {"topic": "Acme Cloud"},
        "running",
    )
    log = log or MemoryLog(record)
    outcome = await StepRunner(agents, log).run("run-1", step["id"], ())
    return outcome, log


def copy_writer(edits: list[Any]) -> Script:
    return lambda i: {"headline": "H", "body": f"draft {len(edits)} for {i['topic']}"}


def voice(*verdicts: str) -> Script:
    return answers(*({"verdict": v, "edits": [f"edit after {v}"]} for v in verdicts))


async def test_a_graph_loops_until_the_check_passes_recording_the_state_per_turn(catalog: Catalog) -> None:
    agents = Agents(
        {
            WRITER: lambda i: {"headline": "H", "body": f"draft for {i['topic']}"},
            VOICE: voice("rewrite", "rewrite", "approve"),
            CLAIMS: answers({"summary": "fine", "claims": []}),
        }
    )
    outcome, log = await run(catalog, graph_step(), agents)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.output["path"] == ["write", "voice", "write", "voice", "write", "voice", "claims"]
    assert outcome.output["ended"] == "end"
    assert outcome.output["state"]["verdict"] == "approve"
    assert outcome.output["state"]["claims"] == {"summary": "fine", "claims": []}  # no update: under its id
    assert outcome.output["usage"] == {"calls": 7, "tokens": 140}
    turns = log.recorded("copy")
    assert [(t.seq, t.role, t.status) for t in turns][:2] == [
        (1, "write", "succeeded"),
        (2, "voice", "succeeded"),
    ]
    assert turns[1].state["verdict"] == "rewrite" and turns[1].state["edits"] == ["edit after rewrite"]
    assert "edit after rewrite" in agents.of(WRITER)[1]["topic"]  # the edits reached the writer
    kinds = [k for k, _ in log.events]
    assert kinds.count("turn.started") == kinds.count("turn.finished") == 7


async def test_the_loop_bound_ends_or_fails_the_graph(catalog: Catalog) -> None:
    scripts: dict[str, Script] = {
        WRITER: answers({"body": "again"}),
        VOICE: voice("rewrite"),
        CLAIMS: answers({}),
    }
    outcome, _ = await run(catalog, graph_step(on_limit="end"), Agents(dict(scripts)))
    assert outcome.status == "succeeded"
    assert outcome.output["ended"] == "limit"
    assert outcome.output["path"] == ["write", "voice"] * 3
    outcome, _ = await run(catalog, graph_step(), Agents(dict(scripts)))
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error["type"] == "loop_limit"
    assert "node 'write' would run more than max_visits (3) times" in outcome.error["message"]


async def test_a_node_whose_edges_all_fail_fails_the_step(catalog: Catalog) -> None:
    edges = [
        {"from": "write", "to": "voice"},
        {"from": "voice", "to": "claims", "when": "state.verdict == 'approve'"},
    ]
    agents = Agents({WRITER: answers({"body": "b"}), VOICE: voice("minor_edits"), CLAIMS: answers({})})
    outcome, _ = await run(catalog, graph_step(edges=edges, max_visits=None), agents)
    assert outcome.error is not None and outcome.error["type"] == "no_edge"
    assert outcome.error["node"] == "voice"


def manager(*plans: Any, reviews: list[Any] | None = None, answer: Any = None) -> Script:
    """A manager: plans in turn, then its reviews in turn, then the answer."""
    left_plans, left_reviews = list(plans), list(reviews or [{"reviews": []}])

    def act(given: dict[str, Any]) -> Any:
        if given["phase"] == "plan":
            return left_plans.pop(0) if len(left_plans) > 1 else left_plans[0]
        if given["phase"] == "review":
            return left_reviews.pop(0) if len(left_reviews) > 1 else left_reviews[0]
        return answer if answer is not None else {"answer": {"summary": f"{len(given['tasks'])} tasks done"}}

    return act


PLAN = {
    "tasks": [
        {"id": "position", "assignee": POSITIONING, "description": "Write the positioning"},
        {"id": "price", "assignee": PRICING, "description": "Propose tiers"},
        {
            "id": "check",
            "assignee": POSITIONING,
            "description": "Check it all fits",
            "depends_on": ["position", "price"],
        },
    ]
}


async def test_a_team_plans_runs_in_parallel_reviews_once_and_answers(catalog: Catalog) -> None:
    running: list[str] = []
    overlap: list[int] = []

    def member(name: str) -> Script:
        def work(given: dict[str, Any]) -> Any:
            text = next(iter(given.values()))
            return {"text": f"{name}: {text}"}

        return work

    reviews = [
        {
            "reviews": [
                {"task": "price", "accepted": False, "feedback": "add a free tier"},
                {"task": "position", "accepted": True},
            ]
        }
    ]
    agents = Agents(
        {MANAGER: manager(PLAN, reviews=reviews), POSITIONING: member("pos"), PRICING: member("price")},
        latency=0.05,
    )
    original = agents.__call__

    async def watched(agent: str, category: str, input: dict[str, Any], caller: Caller, rid: str) -> Any:
        running.append(agent)
        overlap.append(len(running))
        try:
            return await original(agent, category, input, caller, rid)
        finally:
            running.remove(agent)

    outcome, log = await run(catalog, team_step(), watched)  # type: ignore[arg-type]
    assert outcome.status == "succeeded", outcome.error
    assert max(overlap) == 2  # position and price ran together
    roles = [t.role for t in log.recorded("team")]
    assert roles == ["plan", "task:position", "task:price", "task:check", "review", "task:price", "answer"]
    tasks = {t["id"]: t for t in outcome.output["tasks"]}
    assert tasks["price"]["revisions"] == 1 and tasks["price"]["feedback"] == "add a free tier"
    assert "feedback: add a free tier" in agents.of(PRICING)[1]["product_summary"]
    assert "feedback: null" in agents.of(PRICING)[0]["product_summary"]
    assert '"task":"position"' in agents.of(POSITIONING)[1]["product_facts"]  # `check` saw its inputs
    assert outcome.output["answer"] == {"summary": "3 tasks done"}
    planning = agents.of(MANAGER)[0]
    assert planning["phase"] == "plan" and planning["goal"] == "Launch Acme Cloud"
    described = {m["name"]: m["description"] for m in planning["members"]}
    assert described[PRICING] == catalog.get(PRICING).description


async def test_a_bad_plan_is_sent_back_once_then_fails_the_step(catalog: Catalog) -> None:
    stranger = {"tasks": [{"id": "a", "assignee": "someone_else", "description": "x"}]}
    agents = Agents({MANAGER: manager(stranger, PLAN), POSITIONING: answers({}), PRICING: answers({})})
    outcome, _ = await run(catalog, team_step(max_revisions=0), agents)
    assert outcome.status == "succeeded"
    assert agents.of(MANAGER)[1]["problems"] == [
        "task 'a' is assigned to 'someone_else', who is not a member"
    ]
    cyclic = {
        "tasks": [
            {"id": "a", "assignee": PRICING, "description": "x", "depends_on": ["b"]},
            {"id": "b", "assignee": PRICING, "description": "y", "depends_on": ["a"]},
        ]
    }
    outcome, _ = await run(catalog, team_step(), Agents({MANAGER: manager(cyclic)}))
    assert outcome.error is not None and outcome.error["type"] == "bad_plan"
    assert outcome.error["problems"] == ["tasks depend on each other in a cycle: a, b"]
    too_many = {"tasks": [{"id": f"t{i}", "assignee": PRICING, "description": "x"} for i in range(9)]}
    outcome, _ = await run(catalog, team_step(), Agents({MANAGER: manager(too_many)}))
    assert outcome.error is not None and outcome.error["problems"] == ["9 tasks, at most 8"]


async def test_a_member_failing_fails_the_team_and_names_the_turn(catalog: Catalog) -> None:
    agents = Agents(
        {MANAGER: manager(PLAN), POSITIONING: answers({}), PRICING: answers(RuntimeError("down"))}
    )
    outcome, log = await run(catalog, team_step(), agents)
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error["type"] == "service_unavailable" and outcome.error["role"] == "task:price"
    assert [t.status for t in log.recorded("team") if t.role == "task:price"] == ["failed"]
    assert not any(t.role == "task:check" for t in log.recorded("team"))


def speaker(name: str, *lines: str) -> Script:
    return answers(
        *({"positioning_statement": line, "validation_steps": [line], "questions": [line]} for line in lines)
    )


async def test_a_round_robin_chat_ends_on_the_phrase(catalog: Catalog) -> None:
    agents = Agents(
        {
            POSITIONING: speaker("pos", "We lead on price", "still thinking"),
            PRICING: speaker("price", "Tiered by seats"),
            QUESTIONS: speaker("q", "Looks good. AGREED"),
        }
    )
    outcome, _ = await run(catalog, chat_step(until={"phrase": "AGREED"}), agents)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.output["ended_by"] == "phrase"
    transcript = outcome.output["transcript"]
    assert [m["speaker"] for m in transcript] == [POSITIONING, PRICING, QUESTIONS]
    assert transcript[0]["message"] == "We lead on price"
    assert transcript[1]["message"] == '["Tiered by seats"]'  # a say that is not text is JSON
    assert "positioning_statement" in transcript[2]["message"]  # no say: the whole output
    assert "positioning: We lead on price" not in agents.of(PRICING)[0]["product_summary"]
    assert f"{POSITIONING}: We lead on price" in agents.of(PRICING)[0]["product_summary"]


async def test_a_chat_ends_on_a_schema_valid_answer_or_at_max_turns(catalog: Catalog) -> None:
    scripts: dict[str, Script] = {
        POSITIONING: answers(
            {"positioning_statement": "draft"},
            {"positioning_statement": "final", "category_strategy": "new_category"},
        ),
        PRICING: speaker("price", "tiers"),
        QUESTIONS: speaker("q", "why"),
    }
    answer = {"type": "object", "required": ["category_strategy"]}
    outcome, _ = await run(catalog, chat_step(until={"answer": answer}, max_turns=6), Agents(dict(scripts)))
    assert outcome.output["ended_by"] == "answer" and len(outcome.output["transcript"]) == 4
    assert outcome.output["answer"]["positioning_statement"] == "final"
    outcome, _ = await run(catalog, chat_step(max_turns=2), Agents(dict(scripts)))
    assert outcome.output["ended_by"] == "max_turns" and outcome.output["answer"] is None
    outcome, _ = await run(catalog, chat_step(max_turns=2, on_limit="fail"), Agents(dict(scripts)))
    assert outcome.error is not None and outcome.error["type"] == "turn_limit"


async def test_a_selector_picks_the_speaker_and_a_bad_pick_falls_back_in_order(catalog: Catalog) -> None:
    picks = answers({"next_speaker": QUESTIONS}, {"next_speaker": QUESTIONS}, {"next_speaker": "nobody"})
    agents = Agents(
        {
            MODERATOR: picks,
            POSITIONING: speaker("p", "a"),
            PRICING: speaker("r", "b"),
            QUESTIONS: speaker("q", "c"),
        }
    )
    outcome, log = await run(catalog, chat_step(speaker="selector", selector=MODERATOR, max_turns=3), agents)
    assert outcome.status == "succeeded", outcome.error
    # 1: picked; 2: the last speaker again is not allowed, so the next in order; 3: unknown, so in order
    assert [m["speaker"] for m in outcome.output["transcript"]] == [QUESTIONS, PRICING, QUESTIONS]
    selections = [t.state for t in log.recorded("chat") if t.role == "selector"]
    assert selections == [
        {"next_speaker": QUESTIONS, "fallback": False},
        {"next_speaker": PRICING, "fallback": True},
        {"next_speaker": QUESTIONS, "fallback": True},
    ]
    offered = [c["name"] for c in agents.of(MODERATOR)[1]["candidates"]]
    assert offered == [POSITIONING, PRICING]  # the last speaker is not offered again


async def test_limits_on_calls_tokens_and_time_fail_the_step(catalog: Catalog) -> None:
    scripts: dict[str, Script] = {
        WRITER: answers({"body": "b"}),
        VOICE: voice("rewrite"),
        CLAIMS: answers({}),
    }
    outcome, _ = await run(catalog, graph_step(on_limit="end"), Agents(dict(scripts)), max_calls=3)
    assert outcome.error is not None and outcome.error["type"] == "call_limit"
    assert outcome.output == {"usage": {"calls": 3, "tokens": 60}}
    outcome, _ = await run(
        catalog, graph_step(on_limit="end"), Agents(dict(scripts), tokens=100), max_tokens=500
    )
    assert outcome.error is not None and outcome.error["type"] == "token_limit"
    assert outcome.output["usage"]["calls"] == 3  # 600 tokens after the third call
    slow = Agents(dict(scripts), latency=0.6)
    outcome, log = await run(catalog, graph_step(on_limit="end"), slow, max_seconds=1)
    assert outcome.error is not None and outcome.error["type"] == "time_limit"
    assert [t.status for t in log.recorded("copy")] == ["succeeded", "failed"]
    assert log.recorded("copy")[-1].error == {"type": "cancelled", "message": "the run was cancelled"}


async def test_a_step_run_again_replays_its_recorded_turns(catalog: Catalog) -> None:
    down = Agents(
        {
            WRITER: answers({"body": "b"}),
            VOICE: voice("rewrite", "approve"),
            CLAIMS: answers(RuntimeError("x")),
        }
    )
    outcome, log = await run(catalog, graph_step(), down)
    assert outcome.status == "failed" and len(down.calls) == 5
    up = Agents({WRITER: answers({"body": "b"}), VOICE: voice("approve"), CLAIMS: answers({"summary": "ok"})})
    outcome, log = await run(catalog, graph_step(), up, log)
    assert outcome.status == "succeeded", outcome.error
    assert up.calls == [(CLAIMS, {"copy": "b", "channel": "web"})]  # only the turn that had failed
    assert outcome.output["path"] == ["write", "voice", "write", "voice", "claims"]
    assert outcome.output["usage"] == {"calls": 5, "tokens": 100}


async def test_cancelling_a_step_marks_its_running_turn(catalog: Catalog) -> None:
    agents = Agents({WRITER: answers({"body": "b"}), VOICE: voice("approve"), CLAIMS: answers({})}, latency=5)
    wf = workflow(graph_step())
    record = RunRecord(
        "run-1",
        Caller("a", "u"),
        wf.model_dump(mode="json", by_alias=True),
        run_plan(wf, catalog),
        {"topic": "t"},
        "running",
    )
    log = MemoryLog(record)
    task = asyncio.create_task(StepRunner(agents, log).run("run-1", "copy", ()))
    await asyncio.wait_for(agents.called.wait(), 5)  # the first turn's call is under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [(t.status, (t.error or {}).get("type")) for t in log.recorded("copy")] == [
        ("failed", "cancelled")
    ]
