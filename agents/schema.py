"""JSON Schemas of agents: checked against the 2020-12 metaschema and compiled once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema_rs

from agents.errors import FieldError


def pointer(parts: Iterable[str | int]) -> str:
    """A JSON Pointer (RFC 6901) for a path of keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def metaschema_errors(schema: Any) -> list[FieldError]:
    """Problems that make `schema` an invalid JSON Schema (2020-12), as pointers into the schema."""
    if not isinstance(schema, Mapping):
        return [FieldError("", "a schema must be a JSON object")]
    try:
        jsonschema_rs.meta.validate(dict(schema))
    except jsonschema_rs.ValidationError as exc:
        return [FieldError(pointer(exc.instance_path), exc.message)]
    except jsonschema_rs.ReferencingError as exc:
        return [FieldError("", str(exc))]
    if schema.get("type") != "object":
        return [FieldError("/type", "an agent's schema must describe an object (type: object)")]
    return []


class CompiledSchema:
    """A validated, compiled JSON Schema. Build it once; `errors()` is cheap."""

    __slots__ = ("_validator", "schema")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = dict(schema)
        self._validator = jsonschema_rs.validator_for(self.schema, validate_formats=True)

    def errors(self, instance: Any) -> list[FieldError]:
        """Every failing location of `instance`, in document order."""
        if self._validator.is_valid(instance):
            return []
        return [
            FieldError(pointer(e.instance_path), e.message) for e in self._validator.iter_errors(instance)
        ]
