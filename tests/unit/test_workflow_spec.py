"""Workflow specs: parsing, the graph, references, conditions and validation against the catalogue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agents import Catalog
from agents.errors import DefinitionError
from dag import (
    CycleError,
    ExpressionError,
    Problem,
    Ref,
    RenderError,
    Workflow,
    WorkflowError,
    check,
    condition_refs,
    evaluate,
    find_cycles,
    references,
    render,
    validate,
)

WRITER = "marketing_content_writer"  # input: topic*, content_type* (enum), word_count (int), keywords [str]
NDA = "legal_nda_reviewer"  # output: nda_type (enum), clause_reviews [...], signing_route (enum), ...
INPUT: dict[str, Any] = {
    "type": "object",
    "required": ["topic", "markets"],
    "properties": {
        "topic": {"type": "string"},
        "markets": {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        },
        "amount": {"type": "number", "default": 0},
        "note": {"type": "string"},
    },
}
VALID = """\
id: demo
description: Writes a post and reviews an NDA.
input_schema:
  type: object
  required: [topic]
  properties:
    topic: {type: string}
steps:
  - id: write
    agent: marketing_content_writer
    input: {topic: "${{ input.topic }}", content_type: blog_post}
  - id: review
    agent: legal_nda_reviewer
    depends_on: [write]
    input: {nda_text: "${{ steps.write.output.body }}", company_role: mutual}
"""


def writer(step_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "agent": WRITER,
        "input": {"topic": "${{ input.topic }}", "content_type": "email"},
        **extra,
    }


def workflow(*steps: dict[str, Any], outputs: dict[str, Any] | None = None) -> Workflow:
    data = {"id": "t", "description": "A workflow under test.", "input_schema": INPUT, "steps": list(steps)}
    if outputs is not None:
        data["outputs"] = outputs
    return Workflow.from_data(data, source="t.yaml")


def problems(wf: Workflow, catalog: Catalog) -> list[str]:
    return [str(p) for p in validate(wf, catalog)]


# -- parsing ---------------------------------------------------------------------------------------


def test_a_valid_workflow_parses_with_defaults() -> None:
    wf = Workflow.from_text(VALID, source="demo.yaml")
    step = wf.step("write")
    assert (wf.id, wf.version, step.agent, step.timeout_s, step.retry.attempts) == ("demo", 1, WRITER, 120, 1)
    assert step.for_each is None and step.when is None and not step.run_if_skipped
    assert wf.outputs == {}
    assert wf.input.errors({"topic": "x"}) == []
    with pytest.raises(KeyError, match="nope"):
        wf.step("nope")


def test_json_files_are_accepted(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "demo.json"
    path.write_text(json.dumps(yaml.safe_load(VALID)))
    assert Workflow.from_file(path).id == "demo"


def test_errors_name_the_file_and_point_inside_it() -> None:
    text = (
        VALID.replace("  - id: review", "  - id: Review")
        .replace("depends_on: [write]", "depends_on: [write]\n    retry: {attempts: 11}\n    colour: red")
        .replace("topic: {type: string}", "topic: {type: strng}")
    )
    with pytest.raises(DefinitionError) as info:
        Workflow.from_text(text, source="wf/demo.yaml")
    paths = [e.path for e in info.value.errors]
    assert "/steps/1/id" in paths
    assert "/steps/1/retry/attempts" in paths
    assert "/steps/1/colour" in paths
    assert "/input_schema/properties/topic/type" in paths  # reported together with the others
    assert all(line.startswith("wf/demo.yaml: /") for line in info.value.lines())


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (("  - id: review", "  - id: write"), "/steps/1/id", "duplicate step id 'write'"),
        (
            ("depends_on: [write]", "for_each: {items: '${{ input.topic }}', as: input}"),
            "/steps/1/for_each/as",
            "reserved",
        ),
        (("depends_on: [write]", "for_each: {items: input.topic}"), "/steps/1/for_each/items", "pattern"),
        (
            ("depends_on: [write]", "retry: {backoff_s: 10, max_backoff_s: 5}"),
            "/steps/1/retry",
            "max_backoff_s",
        ),
        (("depends_on: [write]", "timeout_s: 0"), "/steps/1/timeout_s", "greater than or equal to 1"),
        (("type: object\n  required", "type: array\n  required"), "/input_schema/type", "object"),
        (
            ("content_type: blog_post}", "content_type: blog_post, 3: x}"),
            "/steps/0/input",
            "keys must be strings",
        ),
    ],
)
def test_structural_errors(change: tuple[str, str], path: str, message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        Workflow.from_text(VALID.replace(*change))
    assert any(e.path == path and message in e.message for e in info.value.errors), info.value.errors


def test_retry_backs_off_exponentially_up_to_the_bound() -> None:
    retry = (
        Workflow.from_text(
            VALID.replace("depends_on: [write]", "retry: {attempts: 5, backoff_s: 2, max_backoff_s: 5}")
        )
        .step("review")
        .retry
    )
    assert [retry.delay(n) for n in (2, 3, 4, 5)] == [2.0, 4.0, 5.0, 5.0]


def test_a_dumped_workflow_reads_back_the_same() -> None:
    wf = workflow(writer("a", for_each={"items": "${{ input.markets }}", "as": "market"}))
    document = wf.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert document["steps"][0]["for_each"]["as"] == "market"
    assert Workflow.from_data(document).model_dump() == wf.model_dump()


def test_invalid_yaml_and_non_mappings_are_refused() -> None:
    with pytest.raises(DefinitionError, match="invalid YAML"):
        Workflow.from_text("id: [unclosed", source="x.yaml")
    with pytest.raises(DefinitionError, match="mapping"):
        Workflow.from_text("- a list")


# -- the graph -------------------------------------------------------------------------------------


def test_dependencies_merge_depends_on_with_references_in_input_when_and_items() -> None:
    wf = workflow(
        writer("a"),
        writer("b"),
        writer(
            "c", depends_on=["a"], input={"topic": "${{ steps.b.output.headline }}", "content_type": "email"}
        ),
        writer("d", when="${{ steps.a.status == 'succeeded' }}"),
        writer("e", for_each={"items": "${{ steps.c.output.sections }}"}),
        writer("f", input={"topic": "${{ steps.e.output[0].body }} and ${{ steps.d.output.body }}"}),
    )
    assert wf.dependencies() == {
        "a": frozenset(),
        "b": frozenset(),
        "c": frozenset({"a", "b"}),
        "d": frozenset({"a"}),
        "e": frozenset({"c"}),
        "f": frozenset({"d", "e"}),
    }
    assert wf.layers() == [["a", "b"], ["c", "d"], ["e"], ["f"]]


def test_a_cycle_is_named_in_order() -> None:
    wf = workflow(
        writer("start"),
        writer("a", depends_on=["c"]),
        writer("b", input={"topic": "${{ steps.a.output.body }}"}),
        writer("c", when="${{ steps.b.output.headline == 'x' }}"),
    )
    with pytest.raises(CycleError) as info:
        wf.layers()
    assert info.value.cycle == ["a", "c", "b", "a"]
    assert "dependency cycle: a -> c -> b -> a" in str(info.value)
    assert info.value.errors[0].path == "/steps/1"


def test_find_cycles_reports_one_cycle_per_component() -> None:
    graph = {"a": ["b"], "b": ["a"], "c": ["c"], "d": ["a"], "e": ["f"], "f": ["g"], "g": ["e", "d"]}
    assert find_cycles(graph) == [["a", "b", "a"], ["c", "c"], ["e", "f", "g", "e"]]
    assert find_cycles({"a": [], "b": ["a"]}) == []


def test_layers_refuse_an_unknown_dependency() -> None:
    with pytest.raises(DefinitionError, match="unknown step 'ghost'"):
        workflow(writer("a", depends_on=["ghost"])).layers()


def test_with_defaults_fills_top_level_defaults() -> None:
    wf = workflow(writer("a"))
    assert wf.with_defaults({"topic": "x"}) == {"topic": "x", "amount": 0}
    assert wf.with_defaults({"amount": 5})["amount"] == 5


# -- references and rendering ----------------------------------------------------------------------

CONTEXT: dict[str, Any] = {
    "input": {"topic": "AI", "amount": 1500, "tags": ["a", "b"], "odd key": 1},
    "steps": {
        "plan": {
            "status": "succeeded",
            "output": {"sections": [{"title": "Intro"}, {"title": "End"}], "ok": True},
        },
        "legal": {"status": "skipped", "output": None},
    },
    "section": {"title": "Intro", "n": 1},
}


def test_references_walk_nested_values() -> None:
    value = {
        "a": ["${{ input.topic }} and ${{ steps.plan.output.sections[0].title }}"],
        "b": {"c": "${{ item }}"},
    }
    assert references(value) == [
        Ref("input", None, ("topic",), "input.topic"),
        Ref("steps", "plan", ("output", "sections", 0, "title"), "steps.plan.output.sections[0].title"),
        Ref("item", None, (), "item"),
    ]
    assert references("${{ steps.plan.status }}")[0].path == ("status",)
    assert references({"k": 1, "${{ input.topic }}": "x"}) == []  # keys are never references


def test_a_single_reference_keeps_its_json_type() -> None:
    assert render("${{ steps.plan.output.sections }}", CONTEXT) == [{"title": "Intro"}, {"title": "End"}]
    assert render("${{ input.amount }}", CONTEXT) == 1500
    assert render("${{steps.plan.output.ok}}", CONTEXT) is True
    assert render("${{ steps.legal.output }}", CONTEXT) is None
    assert render('${{ input["odd key"] }}', CONTEXT) == 1


def test_text_around_references_makes_a_string() -> None:
    assert render("About ${{ input.topic }}: ${{ input.tags }}", CONTEXT) == 'About AI: ["a","b"]'
    assert render("${{ input.amount }} / ${{ steps.legal.output }}", CONTEXT) == "1500 / null"
    nested = {"k": ["${{ section.title }}", 3, {"x": "#${{ section.n }}"}], "plain": "no refs"}
    assert render(nested, CONTEXT) == {"k": ["Intro", 3, {"x": "#1"}], "plain": "no refs"}


def test_a_missing_path_raises_naming_the_reference() -> None:
    with pytest.raises(RenderError, match=r"steps\.plan\.output\.missing.*has no 'missing'"):
        render({"a": "${{ steps.plan.output.missing }}"}, CONTEXT)
    with pytest.raises(RenderError, match=r"steps\.legal\.output is null"):
        render("x ${{ steps.legal.output.signing_route }}", CONTEXT)
    with pytest.raises(RenderError):
        render("${{ steps.plan.output.sections[5] }}", CONTEXT)


def test_malformed_references_are_refused() -> None:
    with pytest.raises(ExpressionError, match=r"index lists with \[0\]"):
        references("${{ steps.plan.output.sections.0 }}")
    with pytest.raises(ExpressionError, match="without its closing"):
        references("${{ input.topic ")
    with pytest.raises(ExpressionError, match="unknown name 'secret'"):
        references("${{ secret.key }}")
    with pytest.raises(ExpressionError, match=r"expected steps\.plan\.output\.\.\. or steps\.plan\.status"):
        references("${{ steps.plan.result }}")
    with pytest.raises(ExpressionError, match="'__'"):
        references("${{ input.__class__ }}")
    with pytest.raises(ExpressionError, match="a function call"):
        references("${{ input.topic() }}")


# -- conditions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("${{ steps.plan.output.ok and input.amount > 1000 }}", True),
        ("steps.plan.output.ok and input.amount > 2000", False),
        ("input.amount > 2000 or input.topic == 'AI'", True),
        ("not steps.plan.output.ok", False),
        ("input.topic != 'AI'", False),
        ("1000 < input.amount <= 1500", True),
        ("input.amount >= 1500.0", True),
        ("-input.amount < 0", True),
        ("input.topic in ['AI', 'ML']", True),
        ("'b' in input.tags and 'c' not in input.tags", True),
        ("'I' in input.topic", True),
        ("steps.legal.status == 'skipped'", True),
        ("steps.plan.output.sections[1].title == 'End'", True),
        ("steps.plan.output.missing == true", False),  # a missing path is null
        ("steps.plan.output.missing == null", True),
        ("steps.legal.output.flag != true", True),
        ("input.nothing", False),
        ("steps.plan.output.ok == 1", False),  # booleans never equal numbers
        ("input.topic > 3", False),  # ordering across types is false
        ("input.amount in null", False),
        ("[1, 2] == [1, 2] and null == None and true", True),
    ],
)
def test_condition_truth_table(expr: str, expected: bool) -> None:
    assert evaluate(expr, CONTEXT) is expected


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("input.topic.upper()", "function calls"),
        ("len(input.tags) > 1", "function calls"),
        ("input.__class__", "'__'"),
        ("().__class__", "only allowed on a path"),
        ("'x'.join", "only allowed on a path"),
        ("(lambda: 1)()", "function calls"),
        ("lambda: 1", "lambda"),
        ("[x for x in input.tags]", "comprehensions"),
        ("input.amount + 1 > 2", "arithmetic"),
        ("input.tags[0:1]", "constant index"),
        ("input.tags[input.amount]", "constant index"),
        ("(x := 1)", "assignment"),
        ("input.a is None", "comparison Is"),
        ("~input.amount", "operator Invert"),
        ("{'a': 1}", "Dict"),
        ("secret == 1", "unknown name 'secret'"),
        ("${{ input.a }} and ${{ input.b }}", "one expression"),
        ("input.a ==", "invalid syntax"),
        ("b'x' == input.topic", "constant"),
    ],
)
def test_conditions_outside_the_whitelist_are_refused(expr: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        evaluate(expr, CONTEXT)


def test_condition_refs_lists_the_paths_used() -> None:
    refs = condition_refs(
        "${{ steps.triage.output.priority == 'high' and input.amount > 1000 or not section.n }}",
        item="section",
    )
    assert [(r.root, r.step, r.path) for r in refs] == [
        ("steps", "triage", ("output", "priority")),
        ("input", None, ("amount",)),
        ("item", None, ("n",)),
    ]


# -- validation against the catalogue -------------------------------------------------------------


def test_a_sound_workflow_has_no_problems(catalog: Catalog) -> None:
    wf = Workflow.from_text(VALID)
    assert validate(wf, catalog) == []
    check(wf, catalog)


def test_unknown_agents_and_steps_come_with_suggestions(catalog: Catalog) -> None:
    wf = workflow(
        writer("draft"),
        {**writer("a", depends_on=["drat"]), "agent": "marketing_content_writr"},
        writer("b", input={"topic": "${{ steps.drafts.output.body }}", "content_type": "email"}),
    )
    assert problems(wf, catalog) == [
        "steps[a]/agent: unknown agent 'marketing_content_writr'; did you mean 'marketing_content_writer', "
        "'marketing_seo_content_brief_writer' or 'marketing_content_repurposer'?",
        "steps[a]/depends_on/0: unknown step 'drat'; did you mean 'draft'?",
        "steps[b]/input/topic: steps.drafts.output.body: unknown step 'drafts'; did you mean 'draft'?",
    ]


def test_item_only_inside_a_for_each_input(catalog: Catalog) -> None:
    wf = workflow(
        writer("a", input={"topic": "${{ item.name }}", "content_type": "email"}),
        writer(
            "b",
            for_each={"items": "${{ input.markets }}", "as": "market"},
            when="market.name == 'x'",
            input={"topic": "${{ market.name }} ${{ item.name }}", "content_type": "email"},
        ),
        writer("c", for_each={"items": "${{ item }}"}),
    )
    assert problems(wf, catalog) == [
        "steps[a]/input/topic: item.name: the item exists only in a for_each step",
        "steps[b]/when: market.name: when (evaluated once, before the fan-out) cannot use the item",
        "steps[b]/input/topic: invalid reference ${{ item.name }}: unknown name 'item', expected input, "
        "steps, market",
        "steps[c]/for_each/items: item: for_each.items cannot use the item",
    ]


def test_malformed_references_are_problems(catalog: Catalog) -> None:
    wf = workflow(
        writer("a", input={"topic": "${{ input.topic", "content_type": "email"}),
        writer("b", input={"topic": "${{ steps.a.output.sections.0 }}", "content_type": "email"}),
    )
    assert problems(wf, catalog) == [
        "steps[a]/input/topic: '${{' without its closing '}}'",
        "steps[b]/input/topic: invalid reference ${{ steps.a.output.sections.0 }}: not a valid path; index "
        "lists with [0], not .0",
    ]


def test_cycles_and_self_references(catalog: Catalog) -> None:
    wf = workflow(
        writer("a", depends_on=["b"]),
        writer("b", input={"topic": "${{ steps.a.output.body }}", "content_type": "email"}),
        writer("c", input={"topic": "${{ steps.c.output.body }}", "content_type": "email"}),
        writer("d", depends_on=["d"]),
    )
    assert problems(wf, catalog) == [
        "steps[a]: dependency cycle: a -> b -> a",
        "steps[c]/input/topic: steps.c.output.body: a step cannot reference its own output or status",
        "steps[d]: dependency cycle: d -> d",
    ]


def test_references_must_fit_the_producers_output_schema(catalog: Catalog) -> None:
    wf = workflow(
        {"id": "nda", "agent": NDA, "input": {"nda_text": "${{ input.topic }}", "company_role": "mutual"}},
        writer("many", for_each={"items": "${{ input.markets }}"}),
        writer(
            "use",
            input={
                "topic": "${{ steps.nda.output.signing_rout }}",
                "content_type": "email",
                "audience": "${{ steps.nda.output.clause_reviews[0].quoted_text }} "
                "${{ steps.nda.output.nda_type.x }}",
                "keywords": ["${{ steps.many.output.headline }}", "${{ steps.many.output[0].headline }}"],
                "tone": "${{ steps.nda.output.clause_reviews.rating }}",
            },
        ),
    )
    assert problems(wf, catalog) == [
        "steps[use]/input/topic: steps.nda.output.signing_rout: steps.nda.output has no field "
        "'signing_rout'; "
        "did you mean 'signing_route'? (fields: nda_type, clause_reviews, signing_route, escalation_reasons, "
        "overall_risk) (agent legal_nda_reviewer)",
        "steps[use]/input/audience: steps.nda.output.nda_type.x: steps.nda.output.nda_type is a string, "
        "it has no field 'x' (agent legal_nda_reviewer)",
        "steps[use]/input/keywords/0: steps.many.output.headline: steps.many.output is an array, it has no "
        "field "
        "'headline' (agent marketing_content_writer, one output per item)",
        "steps[use]/input/tone: steps.nda.output.clause_reviews.rating: steps.nda.output.clause_reviews is "
        "an "
        "array, it has no field 'rating' (agent legal_nda_reviewer)",
    ]


def test_workflow_input_references_must_exist_and_be_present(catalog: Catalog) -> None:
    wf = workflow(
        writer("a", input={"topic": "${{ input.topc }}", "content_type": "email"}),
        writer("b", input={"topic": "${{ input.note }}", "content_type": "email"}, when="input.note != null"),
        writer("c", input={"topic": "${{ input.markets[0].name }}", "content_type": "email"}),
    )
    assert problems(wf, catalog) == [
        "steps[a]/input/topic: input.topc: the workflow's input_schema has no property 'topc'; did you mean "
        "'topic'?",
        "steps[b]/input/topic: input.note: input 'note' is optional and has no default, so the reference "
        "fails "
        "when a run leaves it out; make it required or give it a default",
    ]


def test_inputs_must_satisfy_the_consuming_agents_schema(catalog: Catalog) -> None:
    wf = workflow(
        {"id": "nda", "agent": NDA, "input": {"nda_text": "${{ input.topic }}", "company_role": "mutual"}},
        writer(
            "a",
            input={
                "content_type": "tweet",
                "tone": "${{ steps.nda.output.overall_risk }}",
                "word_count": "${{ input.amount }} words",
                "keywords": "${{ steps.nda.output.escalation_reasons }}",
                "audience": "${{ steps.nda.output.clause_reviews }}",
                "topics": "x",
            },
        ),
        writer("b", input={"topic": "${{ input.topic }}", "content_type": "email", "word_count": 10}),
        writer(
            "c", input={"topic": {"text": "${{ input.topic }}"}, "content_type": "${{ steps.nda.status }}"}
        ),
    )
    assert problems(wf, catalog) == [
        "steps[a]/input: missing required input 'topic' of agent marketing_content_writer",
        'steps[a]/input/content_type: "tweet" is not one of "blog_post", "social_post" or 2 other candidates',
        "steps[a]/input/tone: ${{ steps.nda.output.overall_risk }} is one of ['low', 'medium', 'high'], but "
        "marketing_content_writer accepts ['professional', 'friendly', 'playful', 'authoritative']",
        "steps[a]/input/word_count: this text is a string, but marketing_content_writer expects an integer "
        "here",
        "steps[a]/input/audience: ${{ steps.nda.output.clause_reviews }} is an array, but "
        "marketing_content_writer expects a string here",
        "steps[a]/input/topics: agent marketing_content_writer has no input 'topics'; did you mean 'topic'?",
        "steps[b]/input/word_count: 10 is less than the minimum of 50",
        "steps[c]/input/topic: this value is an object, but marketing_content_writer expects a string here",
        "steps[c]/input/content_type: ${{ steps.nda.status }} is one of ['succeeded', 'skipped', 'failed'], "
        "but "
        "marketing_content_writer accepts ['blog_post', 'social_post', 'email', 'landing_page']",
    ]


def test_for_each_items_must_be_one_reference_to_a_list(catalog: Catalog) -> None:
    wf = workflow(
        {"id": "nda", "agent": NDA, "input": {"nda_text": "${{ input.topic }}", "company_role": "mutual"}},
        writer("a", for_each={"items": "${{ steps.nda.output.signing_route }}"}),
        writer("b", for_each={"items": "${{ input.markets }} ${{ input.markets }}"}),
        writer("c", for_each={"items": "${{ input.topic }}"}),
        writer(
            "d",
            for_each={"items": "${{ steps.nda.output.clause_reviews }}", "as": "clause"},
            input={"topic": "${{ clause.quoted_txt }}", "content_type": "email"},
        ),
    )
    assert problems(wf, catalog) == [
        "steps[a]/for_each/items: for_each.items must be a list; ${{ steps.nda.output.signing_route }} is a "
        "string",
        "steps[b]/for_each/items: for_each.items must be exactly one reference, e.g. ${{ input.markets }}",
        "steps[c]/for_each/items: for_each.items must be a list; ${{ input.topic }} is a string",
        "steps[d]/input/topic: clause.quoted_txt: clause has no field 'quoted_txt'; did you mean "
        "'quoted_text' or 'proposed_text'? "
        "(fields: clause, quoted_text, rating, proposed_text, rationale)",
    ]


def test_conditions_must_parse_and_compare_enums_with_their_values(catalog: Catalog) -> None:
    wf = workflow(
        {"id": "nda", "agent": NDA, "input": {"nda_text": "${{ input.topic }}", "company_role": "mutual"}},
        writer(
            "a",
            when="${{ steps.nda.output.overall_risk == 'hgh' or steps.nda.status in ['done', 'failed'] }}",
        ),
        writer("b", when="${{ steps.nda.output.overall_risk.__class__ }}"),
        writer("c", when="${{ len(steps.nda.output.escalation_reasons) > 0 }}"),
        writer("d", when="${{ steps.nda.output.overall_risk in ['high', 'medium'] }}"),
    )
    assert problems(wf, catalog) == [
        "steps[a]/when: steps.nda.output.overall_risk is never 'hgh'; it is one of 'low', 'medium', 'high'",
        "steps[a]/when: steps.nda.status is never 'done'; it is one of 'succeeded', 'skipped', 'failed'",
        "steps[b]/when: invalid condition: names starting with '__' are not allowed (__class__)",
        "steps[c]/when: invalid condition: function calls are not allowed",
    ]


def test_joins_after_skippable_steps_reference_whole_outputs(catalog: Catalog) -> None:
    wf = workflow(
        writer("maybe", when="input.amount > 10"),
        writer("after", input={"topic": "${{ steps.maybe.output.body }}", "content_type": "email"}),
        writer(
            "join",
            run_if_skipped=True,
            input={
                "topic": "${{ steps.after.output.body }} / ${{ steps.maybe.output }}",
                "content_type": "email",
            },
        ),
        outputs={"ok": "${{ steps.after.output }}", "status": "${{ steps.after.status }}"},
    )
    assert problems(wf, catalog) == [
        "steps[join]/input/topic: steps.after.output.body: step 'after' may be skipped, and then its output "
        "is "
        "null; reference the whole ${{ steps.after.output }} or check steps.after.status in a condition",
    ]
    wf = workflow(
        writer("maybe", when="input.amount > 10"),
        outputs={"headline": "${{ steps.maybe.output.headline }}"},
    )
    assert problems(wf, catalog) == [
        "/outputs/headline: steps.maybe.output.headline: step 'maybe' may be skipped, and then its output "
        "is null; "
        "reference the whole ${{ steps.maybe.output }} or check steps.maybe.status in a condition",
    ]


def test_outputs_references_are_checked(catalog: Catalog) -> None:
    wf = workflow(
        writer("a"),
        outputs={
            "x": "${{ steps.b.output }}",
            "y": {"nested": ["${{ steps.a.output.headlin }}"]},
            "z": "${{ item.name }}",
            "w": "${{ input.markets }} ${{ steps.a.output.sections[0].heading }}",
        },
    )
    assert problems(wf, catalog) == [
        "/outputs/x: steps.b.output: unknown step 'b'",
        "/outputs/y/nested/0: steps.a.output.headlin: steps.a.output has no field 'headlin'; did you mean "
        "'headline'? (fields: headline, body, call_to_action, keywords_used, sections) (agent "
        "marketing_content_writer)",
        "/outputs/z: invalid reference ${{ item.name }}: unknown name 'item', expected input, steps",
    ]


def test_every_problem_is_reported_at_once(catalog: Catalog) -> None:
    wf = workflow(
        {**writer("a"), "agent": "no_such_agent"},
        writer("b", depends_on=["ghost"], input={"content_type": 5}),
        writer("c", when="input.topic()", input={"topic": "${{ steps.zz.output }}", "content_type": "email"}),
        writer("d", depends_on=["e"]),
        writer("e", depends_on=["d"]),
        outputs={"x": "${{ steps.nope.output }}"},
    )
    found = validate(wf, catalog)
    assert [(p.step, p.field) for p in found] == [
        ("a", "/steps/0/agent"),
        ("b", "/steps/1/depends_on/0"),
        ("b", "/steps/1/input"),
        ("b", "/steps/1/input/content_type"),  # not a string
        ("b", "/steps/1/input/content_type"),  # not in the enum
        ("c", "/steps/2/when"),
        ("c", "/steps/2/input/topic"),
        ("d", "/steps/3"),
        (None, "/outputs/x"),
    ]
    with pytest.raises(WorkflowError) as info:
        check(wf, catalog)
    assert info.value.problems == found
    assert str(info.value) == "t: 9 problems in the workflow"
    assert info.value.lines()[0] == "t: /steps/0/agent: unknown agent 'no_such_agent'"


def test_problem_text_names_the_step() -> None:
    assert str(Problem("research", "/steps/2/input/topic", "bad")) == "steps[research]/input/topic: bad"
    assert str(Problem(None, "/outputs/x", "bad")) == "/outputs/x: bad"
    assert str(Problem(None, "", "bad")) == "/: bad"


def test_a_reference_without_the_format_the_agent_requires_is_a_problem(catalog: Catalog) -> None:
    document = {
        "id": "formats",
        "description": "A date that is only a string.",
        "input_schema": {
            "type": "object",
            "properties": {"start": {"type": "string"}},
            "required": ["start"],
        },
        "steps": [
            {
                "id": "cash",
                "agent": "finance_thirteen_week_cash_forecaster",
                "input": {"start_week": "${{ input.start }}"},
            }
        ],
    }
    problems = [
        p for p in validate(Workflow.from_data(document), catalog) if p.field == "/steps/0/input/start_week"
    ]
    assert problems and "format 'date'" in problems[0].message
    document["input_schema"]["properties"]["start"]["format"] = "date"  # type: ignore[index]
    fixed = validate(Workflow.from_data(document), catalog)
    assert not [p for p in fixed if p.field == "/steps/0/input/start_week"]
