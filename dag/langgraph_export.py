"""A workflow's `graph` step as a LangGraph `StateGraph` whose nodes call the platform's agents.

An extra (`pip install 'ai-agents-platform[langgraph]'`): nothing else imports this module. The exported
graph keeps the step's semantics: the declared state keys (a node's `update`, or its whole output under its
id), the first edge whose `when` holds, `end`, and `max_visits` per node with `on_limit` (`end` stops the
graph, `fail` raises `CollaborationError`). Two private channels carry what the routing needs: `_path`
(the nodes run so far) and `_output` (the last node's output). LangGraph's own `recursion_limit` is set
above what `max_visits` allows, so the step's bound is the one that applies.

    agents = platform_agents("https://agents.example.com", api_key, catalog)
    output = await run_graph(workflow.step("copy"), agents, {"input": {...}})   # {state, path, ended}
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, TypedDict

import httpx

from agents.catalog import Catalog
from dag.collaborate import CollaborationError, next_node, updated_state
from dag.patterns import END, Graph, Node
from dag.refs import render
from dag.spec import Step

AgentFn = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""(agent, input) -> the agent's output; raises when the call fails."""

PATH, OUTPUT = "_path", "_output"


def state_graph(step: Step, agents: AgentFn, context: Mapping[str, Any]) -> Any:
    """The compiled LangGraph graph of a `graph` step; `context` holds `input` (and `steps`, the outputs
    of the steps it reads). Raises `ValueError` for a step that is not a graph."""
    from langgraph.graph import END as LG_END
    from langgraph.graph import START, StateGraph

    graph = _graph(step)
    keys = graph.state_keys()
    fields: dict[str, Any] = {**dict.fromkeys(keys, Any), PATH: list[str], OUTPUT: Any}
    state_type = TypedDict("State", fields)  # type: ignore[misc]
    builder = StateGraph(state_type)
    for node in graph.nodes:
        builder.add_node(node.id, _node(node, keys, agents, context))
    builder.add_edge(START, graph.start)
    for node in graph.nodes:
        targets = {e.to for _, e in graph.edges_from(node.id)} - {END}
        routes: dict[Hashable, str] = {t: t for t in targets}
        routes[END] = LG_END
        builder.add_conditional_edges(node.id, _router(graph, node.id, keys, context), routes)
    return builder.compile()


def initial_state(step: Step, context: Mapping[str, Any]) -> dict[str, Any]:
    graph = _graph(step)
    state: dict[str, Any] = dict.fromkeys(graph.state_keys())
    state.update(render(graph.state, context))
    return {**state, PATH: [], OUTPUT: None}


async def run_graph(step: Step, agents: AgentFn, context: Mapping[str, Any]) -> dict[str, Any]:
    """Run the step on LangGraph: `{state, path, ended}`, as the platform's engine answers it."""
    graph = _graph(step)
    compiled = state_graph(step, agents, context)
    limit = (graph.max_visits or 1) * len(graph.nodes) + 2
    final = await compiled.ainvoke(initial_state(step, context), {"recursion_limit": limit})
    path: list[str] = final[PATH]
    state = {k: final[k] for k in graph.state_keys()}
    ended = "end"
    if path and next_node(graph, path[-1], {**context, "state": state, "output": final[OUTPUT]}) != END:
        ended = "limit"  # the next node had run max_visits times
    return {"state": state, "path": path, "ended": ended}


def platform_agents(
    url: str,
    api_key: str,
    catalog: Catalog,
    *,
    timeout: float = 120.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AgentFn:
    """Agent calls over the platform's HTTP API (`POST /v1/categories/{c}/agents/{name}/invoke`)."""
    client = httpx.AsyncClient(
        base_url=url, headers={"authorization": f"Bearer {api_key}"}, timeout=timeout, transport=transport
    )

    async def call(agent: str, payload: dict[str, Any]) -> Any:
        category = catalog.get(agent.partition("@")[0]).category
        answer = await client.post(
            f"/v1/categories/{category}/agents/{agent}/invoke", json={"input": payload}
        )
        if answer.status_code != 200:
            raise CollaborationError(
                "call_failed", f"{agent} answered {answer.status_code}: {answer.text[:500]}", agent=agent
            )
        return answer.json()["output"]

    return call


def _graph(step: Step) -> Graph:
    if step.graph is None:
        raise ValueError(f"step {step.id!r} is a {step.kind} step, not a graph")
    return step.graph


def _node(node: Node, keys: list[str], agents: AgentFn, context: Mapping[str, Any]) -> Any:
    async def run(state: dict[str, Any]) -> dict[str, Any]:
        shared = {k: state[k] for k in keys}
        payload = render(node.input, {**context, "state": shared})
        output = await agents(node.agent, payload)
        return {
            **updated_state(node, shared, dict(context), output),
            PATH: [*state[PATH], node.id],
            OUTPUT: output,
        }

    return run


def _router(
    graph: Graph, node: str, keys: list[str], context: Mapping[str, Any]
) -> Callable[[dict[str, Any]], str]:
    bound = graph.max_visits or 1

    def route(state: dict[str, Any]) -> str:
        shared = {k: state[k] for k in keys}
        target = next_node(graph, node, {**context, "state": shared, "output": state[OUTPUT]})
        if target == END or state[PATH].count(target) < bound:
            return target
        if graph.on_limit == "end":
            return END
        raise CollaborationError(
            "loop_limit", f"node {target!r} would run more than max_visits ({bound}) times", node=target
        )

    return route
