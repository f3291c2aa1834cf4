"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents import AgentResult, AgentSpec, CategorySpec


class InvokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any] = Field(description="the agent's input, matching its input schema")


class UsageResponse(BaseModel):
    input_tokens: int
    output_tokens: int


class InvokeResponse(BaseModel):
    agent: str
    version: str
    output: dict[str, Any]
    usage: UsageResponse
    latency_ms: float
    provider: str
    model: str
    request_id: str
    attempts: int
    redactions: dict[str, int]


def invoke_body(result: AgentResult) -> dict[str, Any]:
    """The InvokeResponse body of a result (a plain dict: it crosses process boundaries)."""
    body = asdict(result)
    body["usage"] = {"input_tokens": result.usage.input_tokens, "output_tokens": result.usage.output_tokens}
    return body


class AgentSummary(BaseModel):
    name: str
    version: str
    category: str
    description: str
    tags: list[str]
    invoke_path: str

    @classmethod
    def of(cls, spec: AgentSpec) -> AgentSummary:
        return cls(
            name=spec.name,
            version=spec.version,
            category=spec.category,
            description=spec.description,
            tags=spec.tags,
            invoke_path=direct_invoke_path(spec.category, spec.name),
        )


class AgentDetail(AgentSummary):
    system_prompt: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    model: dict[str, Any]
    guardrails: dict[str, Any]

    @classmethod
    def of(cls, spec: AgentSpec) -> AgentDetail:
        data = spec.model_dump(mode="json", exclude={"schema_ref"})
        return cls(**data, invoke_path=direct_invoke_path(spec.category, spec.name))


class AgentPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[AgentSummary]


class CategoryResponse(BaseModel):
    id: str
    title: str
    description: str
    agents: int
    path: str

    @classmethod
    def of(cls, category: CategorySpec, agents: int) -> CategoryResponse:
        return cls(
            id=category.id,
            title=category.title,
            description=category.description,
            agents=agents,
            path=category_prefix(category.id),
        )


def category_prefix(category: str) -> str:
    """The route prefix of a category's own Serve application."""
    return f"/v1/categories/{category}"


def direct_invoke_path(category: str, name: str) -> str:
    """The invoke path that reaches the category's replicas with no hop through the gateway."""
    return f"{category_prefix(category)}/agents/{name}/invoke"
