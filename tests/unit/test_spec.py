"""Agent definitions: parsing, validation errors that name the file and the path inside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.errors import DefinitionError
from agents.spec import AgentSpec

VALID = """\
name: invoice_checker
version: 1.2.0
category: accounting
description: Checks an invoice against its purchase order.
system_prompt: You are an accounts payable analyst. Compare the invoice with the order.
input_schema:
  type: object
  required: [invoice]
  properties:
    invoice: {type: string}
output_schema:
  type: object
  required: [matches]
  properties:
    matches: {type: boolean}
tags: [ap, invoices]
"""


def test_from_text_reads_a_valid_definition() -> None:
    spec = AgentSpec.from_text(VALID)
    assert (spec.name, spec.version, spec.category, spec.ref) == (
        "invoice_checker",
        "1.2.0",
        "accounting",
        "invoice_checker@1.2.0",
    )
    assert spec.input.errors({"invoice": "INV-1"}) == []
    assert spec.guardrails.pii is None  # the platform default applies


def test_json_definitions_are_accepted(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "invoice_checker.json"
    path.write_text(json.dumps(yaml.safe_load(VALID)))
    assert AgentSpec.from_file(path).name == "invoice_checker"


def test_schema_errors_point_inside_the_schema() -> None:
    text = VALID.replace("invoice: {type: string}", "invoice: {type: strng}")
    with pytest.raises(DefinitionError) as info:
        AgentSpec.from_text(text, source="defs/accounting/invoice_checker.yaml")
    assert info.value.errors[0].path == "/input_schema/properties/invoice/type"
    assert info.value.lines()[0].startswith(
        "defs/accounting/invoice_checker.yaml: /input_schema/properties/invoice"
    )


def test_field_errors_name_every_failing_field() -> None:
    text = VALID.replace("name: invoice_checker", "name: Invoice-Checker").replace("1.2.0", "one")
    with pytest.raises(DefinitionError) as info:
        AgentSpec.from_text(text)
    paths = {e.path for e in info.value.errors}
    assert paths == {"/name", "/version"}


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(DefinitionError) as info:
        AgentSpec.from_text(VALID + "colour: blue\n")
    assert info.value.errors[0].path == "/colour"


def test_schemas_must_describe_objects() -> None:
    text = VALID.replace(
        "output_schema:\n  type: object\n  required: [matches]\n  properties:\n    matches: {type: boolean}",
        "output_schema: {type: string}",
    )
    with pytest.raises(DefinitionError) as info:
        AgentSpec.from_text(text)
    assert info.value.errors[0].path == "/output_schema/type"


def test_yaml_syntax_errors_give_the_line() -> None:
    with pytest.raises(DefinitionError, match="invalid YAML at line 2, column 6: mapping values are not"):
        AgentSpec.from_text("name: x\n  bad: [", source="f.yaml")
