"""Workflows: specs, validation and compilation to Ray DAGs. Imports `agents`, never `serve_app`.

Errors: `DefinitionError` (from `agents`) for a malformed workflow document, with `CycleError` when the steps
depend on each other in a cycle and `WorkflowError` when it does not fit the catalogue; `ExpressionError`
(a `ValueError`) for a malformed reference or condition; `RenderError` (a `LookupError`) at run time when a
reference names a path the run does not hold.
"""

from dag.refs import (
    Condition,
    ExpressionError,
    Ref,
    RenderError,
    condition_refs,
    evaluate,
    parse_condition,
    parse_ref,
    references,
    render,
)
from dag.spec import CycleError, ForEach, Retry, Step, Workflow, find_cycles
from dag.validate import Problem, WorkflowError, check, validate

__all__ = [
    "Condition",
    "CycleError",
    "ExpressionError",
    "ForEach",
    "Problem",
    "Ref",
    "RenderError",
    "Retry",
    "Step",
    "Workflow",
    "WorkflowError",
    "check",
    "condition_refs",
    "evaluate",
    "find_cycles",
    "parse_condition",
    "parse_ref",
    "references",
    "render",
    "validate",
]
