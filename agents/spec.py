"""Agent and category definitions, read from YAML or JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

import yaml_rs
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from agents.errors import DefinitionError, FieldError
from agents.schema import CompiledSchema, metaschema_errors, pointer

SNAKE_CASE = r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$"
SEMVER = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
_M = TypeVar("_M", bound=BaseModel)
PiiMode = Literal["off", "redact", "block"]
Name = Annotated[str, Field(pattern=SNAKE_CASE, min_length=2, max_length=80)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ModelSpec(_Spec):
    """Which model runs the agent; every field falls back to the platform default."""

    provider: str | None = Field(default=None, description="anthropic, openai, offline, or a configured name")
    name: str | None = Field(default=None, min_length=1, max_length=200, description="model id")
    max_tokens: int | None = Field(default=None, ge=1, le=64_000)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)


class GuardrailSpec(_Spec):
    """PII handling and blocked topics for one agent."""

    pii: PiiMode | None = Field(default=None, description="off, redact or block; platform default when unset")
    scan_input: bool = Field(default=False, description="apply the PII mode to the input as well")
    blocked_topics: list[Annotated[str, Field(min_length=2, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )


class AgentSpec(_Spec):
    """One agent, as written in `definitions/<category>/<name>.yaml`."""

    schema_ref: str | None = Field(default=None, alias="$schema", exclude=True)
    name: Name
    version: str = Field(default="1.0.0", pattern=SEMVER)
    category: Name
    description: str = Field(min_length=10, max_length=1000)
    system_prompt: str = Field(min_length=20, max_length=50_000)
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    model: ModelSpec = Field(default_factory=ModelSpec)
    guardrails: GuardrailSpec = Field(default_factory=GuardrailSpec)
    tags: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40)]] = Field(
        default_factory=list, max_length=20
    )

    _input: CompiledSchema = PrivateAttr()
    _output: CompiledSchema = PrivateAttr()

    @model_validator(mode="after")
    def _compile_schemas(self) -> Self:
        problems: list[FieldError] = []
        for field in ("input_schema", "output_schema"):
            for error in metaschema_errors(getattr(self, field)):
                problems.append(FieldError(f"/{field}{error.path}", error.message))
        if problems:
            # Not a ValueError on purpose: it leaves pydantic untouched and keeps its paths.
            raise DefinitionError(problems[0].message, errors=problems)
        self._input = CompiledSchema(self.input_schema)
        self._output = CompiledSchema(self.output_schema)
        return self

    @property
    def input(self) -> CompiledSchema:
        return self._input

    @property
    def output(self) -> CompiledSchema:
        return self._output

    @property
    def ref(self) -> str:
        """`name@version`."""
        return f"{self.name}@{self.version}"

    @classmethod
    def from_data(cls, data: Any, *, source: str = "<data>") -> AgentSpec:
        return _validate(cls, data, source)

    @classmethod
    def from_text(
        cls, text: str, *, source: str = "<text>", fmt: Literal["yaml", "json"] = "yaml"
    ) -> AgentSpec:
        return cls.from_data(parse_document(text, source, fmt), source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> AgentSpec:
        return cls.from_data(read_document(Path(path)), source=str(path))


class DeploymentDefaults(_Spec):
    """How a category's deployment scales; read by the Serve application."""

    min_replicas: int = Field(default=1, ge=0, le=100)
    max_replicas: int = Field(default=4, ge=1, le=1000)
    target_ongoing_requests: float = Field(default=32, gt=0, le=10_000)
    max_ongoing_requests: int = Field(default=256, ge=1, le=100_000)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        return self


class CategorySpec(_Spec):
    id: Name
    title: str = Field(min_length=2, max_length=100)
    description: str = Field(min_length=10, max_length=1000)
    deployment: DeploymentDefaults = Field(default_factory=DeploymentDefaults)


class CategoriesFile(_Spec):
    categories: list[CategorySpec] = Field(min_length=1)

    @classmethod
    def from_file(cls, path: Path) -> CategoriesFile:
        return _validate(cls, read_document(path), str(path))


def read_document(path: Path) -> Any:
    """The data of a definition file: JSON for `.json`, YAML otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"cannot read file: {exc}", source=str(path)) from exc
    return parse_document(text, str(path), "json" if path.suffix == ".json" else "yaml")


def parse_document(text: str, source: str, fmt: Literal["yaml", "json"]) -> Any:
    """A YAML or JSON document; a syntax error becomes a DefinitionError naming `source` and the line."""
    try:
        if fmt == "json":
            return json.loads(text)
        # YAML 1.2 (yaml-rs): `off` stays a string, dates stay strings, duplicate keys are refused.
        return yaml_rs.loads(text, parse_datetime=False)
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"invalid JSON at line {exc.lineno}: {exc.msg}", source=source) from exc
    except yaml_rs.YAMLDecodeError as exc:
        lines = str(exc).splitlines()
        message = lines[0] if len(lines) == 1 else f"{lines[0]}: {lines[-1]}"
        raise DefinitionError(message.replace("YAML parse error", "invalid YAML"), source=source) from exc


def _validate(model: type[_M], data: Any, source: str) -> _M:
    if not isinstance(data, dict):
        raise DefinitionError("a definition must be a mapping", source=source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [FieldError(pointer(e["loc"]), _message(e["msg"])) for e in exc.errors()]
        raise DefinitionError(errors[0].message, source=source, errors=errors) from None
    except DefinitionError as exc:
        raise DefinitionError(exc.errors[0].message, source=source, errors=exc.errors) from None


def _message(msg: str) -> str:
    return re.sub(r"^Value error, ", "", msg)


def definition_json_schema() -> dict[str, Any]:
    """The JSON Schema of the definition format, as committed in `definitions/agent.schema.json`."""
    schema = AgentSpec.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "agent.schema.json"
    schema["title"] = "Agent definition"
    schema["description"] = "One agent of the catalogue: definitions/<category>/<name>.yaml (or .json)."
    for field in ("input_schema", "output_schema"):
        schema["properties"][field] = {
            "$ref": "https://json-schema.org/draft/2020-12/schema",
            "description": f"JSON Schema (2020-12) of the agent's {field.split('_')[0]}, of type object",
        }
    return schema
