"""The offline provider: schema-valid, deterministic answers derived from the input, for every agent."""

from __future__ import annotations

from typing import Any

from agents import AgentRunner, Catalog
from agents.providers import OfflineProvider
from agents.sample import Sampler


def _minimal_input(schema: dict[str, Any]) -> dict[str, Any]:
    # The sampler builds an input that fits the input schema, as a client would send.
    value: dict[str, Any] = Sampler(schema)({"seed": "client"})
    return value


async def test_every_agent_answers_offline_with_output_that_fits_its_schema(catalog: Catalog) -> None:
    runner = AgentRunner({"offline": OfflineProvider()}, default_provider="offline")
    failures = []
    for spec in catalog:
        document = _minimal_input(spec.input_schema)
        assert spec.input.errors(document) == [], spec.name
        result = await runner.invoke(spec, document)
        assert result.provider == "offline"
        errors = spec.output.errors(result.output)
        if errors:
            failures.append((spec.name, errors))
    assert failures == []


async def test_offline_answers_are_deterministic_and_follow_the_input(catalog: Catalog) -> None:
    runner = AgentRunner({"offline": OfflineProvider()}, default_provider="offline")
    spec = catalog.get("marketing_content_writer")
    first = await runner.invoke(spec, {"topic": "Reusable bottles", "content_type": "email"})
    again = await runner.invoke(spec, {"topic": "Reusable bottles", "content_type": "email"})
    other = await runner.invoke(spec, {"topic": "Winter tyres", "content_type": "email"})
    assert first.output == again.output
    assert "Reusable bottles" in first.output["headline"]
    assert other.output != first.output


def test_sampler_honours_formats_enums_ranges_and_references() -> None:
    schema = {
        "type": "object",
        "$defs": {"level": {"type": "string", "enum": ["low", "high"]}},
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "mail": {"type": "string", "format": "email"},
            "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            "count": {"type": "integer", "minimum": 3, "maximum": 5},
            "level": {"$ref": "#/$defs/level"},
            "code": {"type": "string", "minLength": 40, "maxLength": 45},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
            "either": {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 7, "maximum": 7}]},
            "fixed": {"const": "v1"},
        },
        "required": ["when", "extra"],
    }
    from agents.schema import CompiledSchema

    compiled = CompiledSchema(schema)
    value = Sampler(schema)({"q": "anything"})
    assert compiled.errors(value) == []
    assert value["either"] == 7 and value["fixed"] == "v1" and len(value["tags"]) == 3
