"""The agent runtime: definitions, catalogue, schemas, providers, guardrails and the runner.

This package knows nothing of Ray, HTTP frameworks or databases.
"""

from agents.catalog import Catalog
from agents.errors import AgentError, AgentRunError, DefinitionError
from agents.runner import AgentResult, AgentRunner, RunContext
from agents.spec import AgentSpec, CategorySpec

__all__ = [
    "AgentError",
    "AgentResult",
    "AgentRunError",
    "AgentRunner",
    "AgentSpec",
    "Catalog",
    "CategorySpec",
    "DefinitionError",
    "RunContext",
]
