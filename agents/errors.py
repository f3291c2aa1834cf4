"""The error tree of the agent runtime.

AgentError
├── DefinitionError          a definition (or the catalogue) is wrong: the author's mistake
│   └── CatalogError         several definitions failed to load; carries every problem
├── UnknownAgentError        no agent of that name
└── AgentRunError            a run failed at run time
    ├── InputValidationError     the input breaks the agent's input schema (no model was called)
    ├── ProviderError            the model provider failed
    │   ├── ProviderTimeoutError     no answer within the deadline
    │   ├── ProviderRateLimitError   429 after the retries
    │   └── ProviderUnavailableError 5xx / overloaded / connection failure after the retries
    ├── OutputValidationError    the model's output still broke the output schema after one repair
    └── GuardrailError           a guardrail blocked the input or the output
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One failing location: a JSON Pointer into the document and what is wrong there."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message}"


class AgentError(Exception):
    """Base of every error this package raises."""

    type: str = "agent_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DefinitionError(AgentError):
    """An agent or category definition is invalid. `source` names the file, `errors` the paths inside it."""

    type = "definition_error"

    def __init__(
        self, message: str, *, source: str = "<text>", errors: list[FieldError] | None = None
    ) -> None:
        self.source = source
        self.errors = errors or [FieldError("", message)]
        super().__init__(f"{source}: {message}")

    def lines(self) -> list[str]:
        """`file: path: message` lines, one per problem."""
        return [f"{self.source}: {e.path or '/'}: {e.message}" for e in self.errors]


class CatalogError(DefinitionError):
    """The catalogue could not be loaded; `problems` holds every failing definition."""

    type = "catalog_error"

    def __init__(self, problems: list[DefinitionError]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(f"{count} invalid definition{'s' if count != 1 else ''}", source="catalogue")

    def lines(self) -> list[str]:
        return [line for problem in self.problems for line in problem.lines()]


class UnknownAgentError(AgentError):
    type = "agent_not_found"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no agent named {name!r}")


class AgentRunError(AgentError):
    """A failure while running an agent."""

    type = "agent_run_error"


class InputValidationError(AgentRunError):
    type = "input_validation_error"

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("input does not match the agent's input schema: " + "; ".join(map(str, errors)))


class ProviderError(AgentRunError):
    type = "provider_error"

    def __init__(self, message: str, *, provider: str) -> None:
        self.provider = provider
        super().__init__(f"{provider}: {message}")


class ProviderTimeoutError(ProviderError):
    type = "provider_timeout"


class ProviderRateLimitError(ProviderError):
    type = "provider_rate_limited"


class ProviderUnavailableError(ProviderError):
    type = "provider_unavailable"


class OutputValidationError(AgentRunError):
    type = "output_validation_error"

    def __init__(self, errors: list[FieldError], *, attempts: int) -> None:
        self.errors = errors
        self.attempts = attempts
        super().__init__(
            f"model output broke the output schema after {attempts} attempts: " + "; ".join(map(str, errors))
        )


class GuardrailError(AgentRunError):
    type = "guardrail_blocked"

    def __init__(self, message: str, *, where: str, kinds: dict[str, int]) -> None:
        self.where = where
        self.kinds = kinds
        super().__init__(message)
