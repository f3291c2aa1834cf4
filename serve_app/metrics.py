"""The platform's Prometheus metrics, exported through Ray's metrics pipeline.

Each Ray process reports its own series to its node's metrics agent, which exports them (prefixed `ray_`)
on the node's metrics port, with labels such as `NodeAddress` and `WorkerId`; sums over those labels are
right however many replicas and nodes there are. Outside a Ray worker (unit tests, the CLI) nothing is
recorded.

    ray_agent_requests_total{agent_name, category, status}        status: ok | error
    ray_agent_processing_seconds{agent_name, category}            histogram
    ray_agent_tokens_total{provider, model, kind}                 kind: input | output
    ray_guardrail_hits_total{kind, action}                        action: redact | block
    ray_rate_limit_rejections_total{scope}                        scope: principal | tenant
    ray_workflow_executions_total{status}, ray_workflow_duration_seconds   (dag.engine)
"""

from __future__ import annotations

from functools import cache
from typing import Any

LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60]


class PlatformMetrics:
    def __init__(self) -> None:
        from ray.util import metrics

        self.requests = metrics.Counter(
            "agent_requests_total",
            description="Agent calls by agent and outcome.",
            tag_keys=("agent_name", "category", "status"),
        )
        self.processing = metrics.Histogram(
            "agent_processing_seconds",
            description="Time to answer an agent call, model call included.",
            boundaries=LATENCY_BUCKETS,
            tag_keys=("agent_name", "category"),
        )
        self.tokens = metrics.Counter(
            "agent_tokens_total",
            description="Model tokens by provider, model and direction.",
            tag_keys=("provider", "model", "kind"),
        )
        self.guardrails = metrics.Counter(
            "guardrail_hits_total",
            description="PII and topic guardrail findings by kind and action.",
            tag_keys=("kind", "action"),
        )
        self.rate_limited = metrics.Counter(
            "rate_limit_rejections_total",
            description="Calls refused by a rate limit, by scope.",
            tag_keys=("scope",),
        )

    def call(self, agent: str, category: str, status: int, seconds: float, body: dict[str, Any]) -> None:
        """One finished agent call: `body` is the answer or the error body."""
        self.requests.inc(
            tags={"agent_name": agent, "category": category, "status": "ok" if status < 400 else "error"}
        )
        self.processing.observe(seconds, tags={"agent_name": agent, "category": category})
        usage = body.get("usage")
        if isinstance(usage, dict):
            labels = {"provider": str(body.get("provider", "")), "model": str(body.get("model", ""))}
            for kind in ("input", "output"):
                count = usage.get(f"{kind}_tokens") or 0
                if count:
                    self.tokens.inc(count, tags={**labels, "kind": kind})
        for kind, count in (body.get("redactions") or {}).items():
            if count:
                self.guardrails.inc(count, tags={"kind": kind, "action": "redact"})
        error = body.get("error")
        if isinstance(error, dict) and error.get("type") == "guardrail_blocked":
            details = error.get("details") or {}
            for kind in details.get("kinds") or {"topic": 1}:
                self.guardrails.inc(tags={"kind": kind, "action": "block"})

    def rejected(self, scope: str) -> None:
        self.rate_limited.inc(tags={"scope": scope})


@cache
def _metrics() -> PlatformMetrics:
    return PlatformMetrics()


def metrics() -> PlatformMetrics | None:
    """The process's metrics when it is a Ray worker (a Serve replica, an actor), else None."""
    import ray

    return _metrics() if ray.is_initialized() else None
