"""Workflow runs on Ray Core.

A run is compiled into actor tasks that take the results of the steps they depend on as ObjectRef arguments:
`executor.run_step.remote(run, step, *upstream_refs)`. Ray starts a step as soon as every upstream result
exists, so independent steps run in parallel, and the driver only submits the graph and waits for it.

- `StepExecutor` (async actor, no CPU reserved) runs steps: skip propagation, `when`, `for_each` with a
  concurrency cap, retries with backoff, a timeout per attempt, and the agent call (through a port: a Serve
  handle on the platform, an in-process runner in tests). It writes each step's state to the run log.
- `WorkflowDriver` (named, detached, restarted by Ray when its process dies) drives runs. When it starts,
  it picks up every unfinished run from the log and submits it again; steps that had finished are not run
  again: their recorded outcomes are put in the object store in their place.

Both load their ports from import paths ("module:attribute"), so that tests can swap them.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import ray
from ray.util import metrics

from dag.collaborate import CollaborationError, Observe, Session, Usage, collaborate
from dag.refs import ExpressionError, RenderError, evaluate, render
from dag.spec import Step, Workflow

log = logging.getLogger(__name__)

NAMESPACE = "agents"
DRIVER = "workflow-driver"
StepStatus = Literal["succeeded", "skipped", "failed", "cancelled"]
RunStatus = Literal["pending", "running", "succeeded", "failed", "cancelled"]
CONCURRENCY = 10_000  # steps (or runs) in flight per actor: they wait on I/O
ENDED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})  # a run in one of these is over
FINISHED: frozenset[str] = frozenset({"succeeded", "skipped"})
_RETRYABLE = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Caller:
    tenant_id: str
    actor: str


@dataclass(frozen=True, slots=True)
class StepOutcome:
    step: str
    status: StepStatus
    output: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Turn:
    """One agent call inside a collaboration step (`graph`, `team`, `chat`), numbered from 1 in the step.

    `role` says what the call was for: a graph's node id; `plan`, `task:<id>`, `review` or `answer` in a
    team; `speaker` or `selector` in a chat. `state` is a graph's shared state after the node ran.
    """

    step: str
    seq: int
    role: str
    agent: str
    status: Literal["running", "succeeded", "failed"]
    input: Any = None
    output: Any = None
    state: Any = None
    error: dict[str, Any] | None = None
    tokens: int = 0
    attempts: int = 0


@dataclass(slots=True)
class RunRecord:
    run_id: str
    caller: Caller
    workflow: dict[str, Any]
    # step id -> {"agent", "category"}; for a graph, team or chat {"pattern", "agents", "roster"}
    plan: dict[str, dict[str, Any]]
    input: dict[str, Any]
    status: str
    steps: dict[str, StepOutcome] = field(default_factory=dict)  # the finished ones


class RunLog(Protocol):
    """Where run and step states live (PostgreSQL on the platform) and where lifecycle events go."""

    async def load(self, run_id: str) -> RunRecord: ...

    async def unfinished(self) -> list[str]: ...

    async def run_started(self, run_id: str) -> None: ...

    async def step_started(self, run_id: str, step: str, attempt: int) -> None: ...

    async def step_finished(self, run_id: str, outcome: StepOutcome) -> None: ...

    async def run_finished(
        self, run_id: str, status: RunStatus, output: Any, error: dict[str, Any] | None
    ) -> None: ...

    async def event(self, run_id: str, kind: str, data: Mapping[str, Any]) -> None: ...

    async def turn_started(self, run_id: str, turn: Turn) -> None: ...

    async def turn_finished(self, run_id: str, turn: Turn) -> None: ...

    async def turns(self, run_id: str, step: str) -> list[Turn]:
        """The step's recorded turns, by `seq`: a step run again replays the ones that succeeded."""
        ...


@dataclass(frozen=True, slots=True)
class _Answer:
    """How one agent call ended, after its attempts."""

    output: Any = None
    error: dict[str, Any] | None = None
    attempts: int = 0
    tokens: int = 0


AgentCall = Callable[[str, str, dict[str, Any], Caller, str], Awaitable[tuple[int, dict[str, Any]]]]
"""(agent, category, input, caller, request id) -> (HTTP status, body): one agent call."""


def load(path: str) -> Any:
    """Build a port from `module:factory`, a callable taking no arguments, in the process that uses it."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)()


# -- steps -----------------------------------------------------------------------------------------


class StepRunner:
    """One step's semantics, free of Ray: the executor actor wraps it."""

    def __init__(self, call: AgentCall, log_: RunLog) -> None:
        self.call = call
        self.log = log_
        self._runs: dict[str, tuple[RunRecord, Workflow]] = {}

    async def _run(self, run_id: str) -> tuple[RunRecord, Workflow]:
        if run_id not in self._runs:
            if len(self._runs) > 1000:
                self._runs.clear()
            record = await self.log.load(run_id)
            self._runs[run_id] = (record, Workflow.from_data(record.workflow, source=run_id))
        return self._runs[run_id]

    async def run(self, run_id: str, step_id: str, upstream_outcomes: tuple[StepOutcome, ...]) -> StepOutcome:
        record, workflow = await self._run(run_id)
        step = workflow.step(step_id)
        direct = workflow.dependencies()[step_id]
        outcomes = {o.step: o for o in upstream_outcomes}
        blocked = [d for d in direct if outcomes[d].status != "succeeded"]
        context: dict[str, Any] = {
            "input": record.input,
            "steps": {o.step: {"status": o.status, "output": o.output} for o in upstream_outcomes},
        }
        if any(outcomes[d].status in ("failed", "cancelled") for d in blocked) or (
            blocked and not step.run_if_skipped
        ):
            return await self._finish(run_id, StepOutcome(step_id, "skipped", error={"blocked_by": blocked}))
        try:
            if step.when is not None and not evaluate(step.when, context):
                return await self._finish(run_id, StepOutcome(step_id, "skipped", error={"when": step.when}))
        except (RenderError, ExpressionError) as exc:
            return await self._finish(run_id, _failed(step_id, "condition_error", str(exc), 0))
        await self.log.event(run_id, "step.started", {"step": step_id})
        target = record.plan[step_id]
        if step.pattern is not None:
            return await self._finish(run_id, await self._collaborate(run_id, record, step, target, context))
        if step.for_each is None:
            return await self._finish(run_id, await self._attempts(run_id, record, step, target, context))
        return await self._finish(run_id, await self._fan_out(run_id, record, step, target, context))

    async def _fan_out(
        self,
        run_id: str,
        record: RunRecord,
        step: Step,
        target: dict[str, Any],
        context: dict[str, Any],
    ) -> StepOutcome:
        assert step.for_each is not None
        try:
            items = render(step.for_each.items, context)
        except RenderError as exc:
            return _failed(step.id, "reference_error", str(exc), 0)
        if not isinstance(items, list):
            return _failed(step.id, "reference_error", f"for_each.items is a {type(items).__name__}", 0)
        if len(items) > step.for_each.max_items:
            return _failed(
                step.id, "too_many_items", f"{len(items)} items, at most {step.for_each.max_items}", 0
            )
        gate = asyncio.Semaphore(step.for_each.max_concurrency)
        as_ = step.for_each.as_

        async def one(index: int, item: Any) -> StepOutcome:
            async with gate:
                scoped = {**context, as_: item}
                return await self._attempts(run_id, record, step, target, scoped, suffix=f"-{index}")

        results = await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        attempts = sum(r.attempts for r in results)
        failed = [r for r in results if r.status != "succeeded"]
        if failed:
            return StepOutcome(step.id, "failed", error=failed[0].error, attempts=attempts)
        return StepOutcome(step.id, "succeeded", [r.output for r in results], attempts=attempts)

    async def _attempts(
        self,
        run_id: str,
        record: RunRecord,
        step: Step,
        target: dict[str, Any],
        context: dict[str, Any],
        suffix: str = "",
    ) -> StepOutcome:
        try:
            payload = render(step.input, context)
        except RenderError as exc:
            return _failed(step.id, "reference_error", str(exc), 0)

        async def started(attempt: int) -> None:
            await self.log.step_started(run_id, step.id, attempt)

        answer = await self._call_agent(
            run_id, record, step, target["agent"], target["category"], payload, suffix, started
        )
        if answer.error is not None:
            return StepOutcome(step.id, "failed", error=answer.error, attempts=answer.attempts)
        return StepOutcome(step.id, "succeeded", answer.output, attempts=answer.attempts)

    async def _call_agent(
        self,
        run_id: str,
        record: RunRecord,
        step: Step,
        agent: str,
        category: str,
        payload: dict[str, Any],
        suffix: str,
        started: Callable[[int], Awaitable[None]] | None = None,
    ) -> _Answer:
        """One agent call with the step's retries and timeout per attempt."""
        retry = step.retry
        error: dict[str, Any] = {}
        tokens = 0
        for attempt in range(1, retry.attempts + 1):
            if started is not None:
                await started(attempt)
            request_id = f"{run_id}-{step.id}{suffix}-{attempt}"
            try:
                async with asyncio.timeout(step.timeout_s):
                    status, body = await self.call(agent, category, payload, record.caller, request_id)
            except TimeoutError:
                status, body = 504, {"error": {"type": "step_timeout", "message": f"over {step.timeout_s} s"}}
            except Exception as exc:
                status, body = (
                    503,
                    {"error": {"type": "call_failed", "message": f"{type(exc).__name__}: {exc}"}},
                )
            usage = body.get("usage") or {}
            tokens += int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
            if status == 200:
                return _Answer(body.get("output"), None, attempt, tokens)
            error = {**body.get("error", {}), "status": status}
            if status not in _RETRYABLE or attempt == retry.attempts:
                return _Answer(None, error, attempt, tokens)
            await asyncio.sleep(retry.delay(attempt + 1) * (0.5 + random.random() / 2))
        return _Answer(None, error, retry.attempts, tokens)

    async def _collaborate(
        self, run_id: str, record: RunRecord, step: Step, target: dict[str, Any], context: dict[str, Any]
    ) -> StepOutcome:
        """A graph, team or chat: each agent call a recorded turn, within the step's limits."""
        assert step.pattern is not None
        await self.log.step_started(run_id, step.id, 1)
        turns = _Turns(self, run_id, record, step, target["agents"], await self.log.turns(run_id, step.id))
        error: dict[str, Any] | None = None
        try:
            async with asyncio.timeout(step.limits.max_seconds):
                output = await collaborate(step.pattern, Session(turns, context, target.get("roster", {})))
        except TimeoutError:
            error = {
                "type": "time_limit",
                "message": f"over limits.max_seconds ({step.limits.max_seconds} s)",
            }
        except CollaborationError as exc:
            error = exc.error()
        usage = {"usage": turns.usage.public()}
        if error is not None:
            return StepOutcome(step.id, "failed", usage, error, turns.usage.calls)
        return StepOutcome(step.id, "succeeded", {**output, **usage}, attempts=turns.usage.calls)

    async def _finish(self, run_id: str, outcome: StepOutcome) -> StepOutcome:
        await self.log.step_finished(run_id, outcome)
        await self.log.event(
            run_id,
            f"step.{outcome.status}",
            {"step": outcome.step, "attempts": outcome.attempts, "error": outcome.error},
        )
        return outcome


class _Turns:
    """The turns of one collaboration step (`dag.collaborate.TurnCall`): each agent call recorded and
    streamed, counted against the step's limits; a turn recorded before with the same role, agent and
    input is replayed, not called again."""

    def __init__(
        self,
        runner: StepRunner,
        run_id: str,
        record: RunRecord,
        step: Step,
        categories: dict[str, str],
        recorded: list[Turn],
    ) -> None:
        self.runner, self.run_id, self.record, self.step = runner, run_id, record, step
        self.categories = categories
        self.recorded = {t.seq: t for t in recorded if t.status == "succeeded"}
        self.usage = Usage()

    async def __call__(
        self, seq: int, role: str, agent: str, payload: dict[str, Any], observe: Observe | None
    ) -> tuple[Any, Any]:
        limits, log = self.step.limits, self.runner.log
        if self.usage.calls >= limits.max_calls:
            raise CollaborationError("call_limit", f"over limits.max_calls ({limits.max_calls}) agent calls")
        self.usage.calls += 1
        done = self.recorded.get(seq)
        if done is not None and (done.role, done.agent, done.input) == (role, agent, payload):
            self.usage.tokens += done.tokens
            return done.output, done.state
        turn = Turn(self.step.id, seq, role, agent, "running", input=payload)
        described = {"step": self.step.id, "seq": seq, "role": role, "agent": agent}
        await log.turn_started(self.run_id, turn)
        await log.event(self.run_id, "turn.started", described)
        try:
            answer = await self.runner._call_agent(
                self.run_id, self.record, self.step, agent, self.categories[agent], payload, f"-t{seq}"
            )
        except asyncio.CancelledError:
            cancelled = {"type": "cancelled", "message": "the run was cancelled"}
            await log.turn_finished(self.run_id, replace(turn, status="failed", error=cancelled))
            raise
        self.usage.tokens += answer.tokens
        error, state = answer.error, None
        if error is None and observe is not None:
            try:
                state = observe(answer.output)
            except CollaborationError as exc:
                error = exc.error()
        status: Literal["succeeded", "failed"] = "failed" if error else "succeeded"
        finished = replace(
            turn,
            status=status,
            output=answer.output,
            state=state,
            error=error,
            tokens=answer.tokens,
            attempts=answer.attempts,
        )
        await log.turn_finished(self.run_id, finished)
        await log.event(
            self.run_id,
            "turn.finished",
            {**described, "status": status, "tokens": answer.tokens, "error": error},
        )
        if error is not None:
            raise CollaborationError(
                str(error.get("type", "turn_failed")),
                f"turn {seq} ({role}, {agent}): {error.get('message', 'failed')}",
                turn=seq,
                role=role,
                agent=agent,
                cause=error,
            )
        if self.usage.tokens > limits.max_tokens:
            raise CollaborationError(
                "token_limit", f"{self.usage.tokens} tokens, over limits.max_tokens ({limits.max_tokens})"
            )
        return answer.output, state


def _failed(step: str, kind: str, message: str, attempts: int) -> StepOutcome:
    return StepOutcome(step, "failed", error={"type": kind, "message": message}, attempts=attempts)


@ray.remote(num_cpus=0, max_restarts=-1)
class StepExecutor:
    def __init__(self, call_path: str, log_path: str) -> None:
        self.runner = StepRunner(load(call_path), load(log_path))

    async def run_step(self, run_id: str, step_id: str, *upstream_outcomes: StepOutcome) -> StepOutcome:
        return await self.runner.run(run_id, step_id, upstream_outcomes)


# -- runs ------------------------------------------------------------------------------------------


class RunDriver:
    """Submits a run's graph and records how it ends; Ray-free apart from the executor handle."""

    def __init__(self, executor: Any, log_: RunLog) -> None:
        self.executor = executor
        self.log = log_
        self.active: dict[str, tuple[asyncio.Task[None], list[ray.ObjectRef[Any]]]] = {}
        self.runs = metrics.Counter(
            "workflow_executions_total", description="Workflow runs by final status.", tag_keys=("status",)
        )
        self.duration = metrics.Histogram(
            "workflow_duration_seconds",
            description="Wall time of workflow runs.",
            boundaries=[0.5, 1, 2, 5, 10, 30, 60, 300, 900],
        )

    def start(self, run_id: str) -> None:
        if run_id in self.active:
            return
        refs: list[ray.ObjectRef[Any]] = []
        task = asyncio.create_task(self._drive(run_id, refs), name=f"run-{run_id}")
        self.active[run_id] = (task, refs)
        task.add_done_callback(lambda _: self.active.pop(run_id, None))

    async def cancel(self, run_id: str) -> bool:
        found = self.active.get(run_id)
        if found is None:
            return False
        task, refs = found
        for ref in refs:
            ray.cancel(ref)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return True

    async def _drive(self, run_id: str, refs: list[ray.ObjectRef[Any]]) -> None:
        began = time.monotonic()
        try:
            record = await self.log.load(run_id)
            workflow = Workflow.from_data(record.workflow, source=run_id)
            await self.log.run_started(run_id)
            await self.log.event(run_id, "run.started", {"resumed": bool(record.steps)})
            submitted: dict[str, ray.ObjectRef[Any]] = {}
            # A step gets its direct dependencies' outcomes: every step it names is one of them.
            dependencies = workflow.dependencies()
            for step_id in (step for layer in workflow.layers() for step in layer):
                done = record.steps.get(step_id)
                if done is not None and done.status in FINISHED:
                    submitted[step_id] = ray.put(done)
                    continue
                ref = self.executor.run_step.remote(
                    run_id, step_id, *(submitted[d] for d in dependencies[step_id])
                )
                submitted[step_id] = ref
                refs.append(ref)
            outcomes: list[StepOutcome] = list(await asyncio.gather(*submitted.values()))
        except asyncio.CancelledError:
            await self._end(
                run_id, "cancelled", None, {"type": "cancelled", "message": "the run was cancelled"}, began
            )
            raise
        except Exception as exc:
            log.exception("run %s failed", run_id)
            await self._end(run_id, "failed", None, {"type": "run_error", "message": str(exc)}, began)
            return
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            await self._end(
                run_id,
                "failed",
                None,
                {"type": "step_failed", "step": failed[0].step, **(failed[0].error or {})},
                began,
            )
            return
        context = {
            "input": record.input,
            "steps": {o.step: {"status": o.status, "output": o.output} for o in outcomes},
        }
        try:
            output = (
                render(workflow.outputs, context)
                if workflow.outputs
                else {o.step: o.output for o in outcomes if o.status == "succeeded"}
            )
        except RenderError as exc:
            await self._end(run_id, "failed", None, {"type": "output_error", "message": str(exc)}, began)
            return
        await self._end(run_id, "succeeded", output, None, began)

    async def _end(
        self, run_id: str, status: RunStatus, output: Any, error: dict[str, Any] | None, began: float
    ) -> None:
        await self.log.run_finished(run_id, status, output, error)
        await self.log.event(run_id, f"run.{status}", {"error": error})
        self.runs.inc(tags={"status": status})
        self.duration.observe(time.monotonic() - began)

    async def resume(self) -> list[str]:
        unfinished = await self.log.unfinished()
        for run_id in unfinished:
            self.start(run_id)
        return unfinished


@ray.remote(num_cpus=0, max_restarts=-1)
class WorkflowDriver:
    def __init__(self, call_path: str, log_path: str, name: str = DRIVER) -> None:
        executor = StepExecutor.options(  # type: ignore[attr-defined]
            name=f"{name}-executor",
            namespace=NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
            max_concurrency=CONCURRENCY,
        ).remote(call_path, log_path)
        self.driver = RunDriver(executor, load(log_path))
        self.resumed: list[str] | None = None
        ray.get_runtime_context().current_actor.resume.remote()

    async def resume(self) -> list[str]:
        """Called once when the actor (re)starts: drive every unfinished run."""
        if self.resumed is None:
            self.resumed = await self.driver.resume()
        return self.resumed

    async def start(self, run_id: str) -> None:
        self.driver.start(run_id)

    async def cancel(self, run_id: str) -> bool:
        return await self.driver.cancel(run_id)

    def pid(self) -> int:
        import os

        return os.getpid()


def driver(call_path: str, log_path: str, *, name: str = DRIVER, env: dict[str, str] | None = None) -> Any:
    """The driver actor called `name` in this Ray cluster, started on first use (with its executor, which
    inherits `env`)."""
    options: dict[str, Any] = {
        "name": name,
        "namespace": NAMESPACE,
        "get_if_exists": True,
        "lifetime": "detached",
    }
    if env:
        options["runtime_env"] = {"env_vars": env}
    return WorkflowDriver.options(**options).remote(call_path, log_path, name)  # type: ignore[attr-defined]
