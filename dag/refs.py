"""References (`${{ path }}`) inside step inputs, their rendering, and `when` conditions.

A reference is `${{ <path> }}` where the path is one of

- `input.<field>...`                   the workflow's input;
- `steps.<id>.output...`               a step's output (`null` when the step was skipped or failed);
- `steps.<id>.status`                  `succeeded`, `skipped` or `failed`;
- `<as>...`                            the current item inside a `for_each` step (`item` unless `as` is set);
- inside a collaboration step (`dag.patterns`), the names it defines there: `state`, `output`, `task`, `chat`.

Fields are separated by dots and list elements are indexed with brackets:
`steps.plan.output.sections[0].heading`; a key that is not an identifier is written `["a key"]`; `.0` is not
valid. The output of a `for_each` step is the list of the agent's outputs, one per item, in the items' order:
`steps.x.output[0].headline`.

A string that is exactly one reference renders as the referenced value with its JSON type. A string with
text around its references renders as a string: strings are inlined as they are, other values as compact
JSON. Keys of mappings are never rendered. A path that does not exist raises `RenderError`.

A condition (`when`) is one expression, written with or without `${{ }}` around it, for example
`${{ steps.triage.output.priority == 'high' and input.amount > 1000 }}`. It may use `and`, `or`, `not`,
unary `-`, comparisons (`== != < <= > >= in not in`), string, number and list literals, `true`, `false`,
`null` and paths as above; nothing else (no calls, no comprehensions, no names starting with `__`).
A path that does not exist evaluates as `null`: `steps.x.output.flag == true` is false when the field is
absent. `==` never equates booleans with numbers; `<`, `<=`, `>`, `>=` compare two numbers or two strings
and are false otherwise; `in` is false when the right side is not a list, string or object.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

Segment = str | int
Location = tuple[Segment, ...]
Root = Literal["input", "steps", "item", "scope"]
Scope = frozenset[str]  # the names a collaboration step defines where a reference is written
NO_SCOPE: Scope = frozenset()

TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_OPEN = "${{"
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None}
_MISSING = object()


class ExpressionError(ValueError):
    """A reference or condition is malformed or uses something outside the whitelist."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"{text!r}: {reason}")


class RenderError(LookupError):
    """A reference names a path that the run context does not hold."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"${{{{ {text} }}}}: {reason}")


@dataclass(frozen=True, slots=True)
class Ref:
    """One reference. `path` follows the root (`input`), the step id (`steps`), the item name (`item`) or
    the scope's name (`scope`, which `name` holds)."""

    root: Root
    step: str | None
    path: tuple[Segment, ...]
    text: str
    name: str | None = None

    @property
    def is_output(self) -> bool:
        return self.root == "steps" and self.path[:1] == ("output",)


# -- paths ---------------------------------------------------------------------------------------


def _segments(node: ast.expr, text: str) -> tuple[Segment, ...]:
    if isinstance(node, ast.Name):
        return (_field(node.id, text),)
    if isinstance(node, ast.Attribute):
        return (*_segments(node.value, text), _field(node.attr, text))
    if isinstance(node, ast.Subscript):
        index = node.slice
        if isinstance(index, ast.Constant) and type(index.value) in (int, str):
            if isinstance(index.value, int) and index.value < 0:
                raise ExpressionError(text, "list indexes must not be negative")
            value = index.value
            key: Segment = value if isinstance(value, int) else _field(str(value), text)
            return (*_segments(node.value, text), key)
        raise ExpressionError(text, 'only a constant index such as [0] or ["key"] is allowed')
    raise ExpressionError(text, f"expected a path such as input.topic, found {_describe(node)}")


def _field(name: str, text: str) -> str:
    if name.startswith("__"):
        raise ExpressionError(text, f"names starting with '__' are not allowed ({name})")
    return name


@lru_cache(maxsize=4096)
def parse_path(text: str) -> tuple[Segment, ...]:
    """The segments of a path such as `steps.plan.output.sections[0]`."""
    stripped = text.strip()
    try:
        return _segments(ast.parse(stripped, mode="eval").body, stripped)
    except (SyntaxError, ValueError) as exc:
        if isinstance(exc, ExpressionError):
            raise
        hint = "; index lists with [0], not .0" if re.search(r"\.\d", stripped) else ""
        raise ExpressionError(stripped, f"not a valid path{hint}") from None
    except RecursionError:
        raise ExpressionError(stripped[:80], "nested too deeply") from None


def format_path(segments: Iterable[Segment]) -> str:
    """A path as written in a reference: `steps.plan.output.sections[0]`."""
    text = ""
    for segment in segments:
        text += f"[{segment}]" if isinstance(segment, int) else (f".{segment}" if text else segment)
    return text


def classify(
    segments: tuple[Segment, ...], text: str, *, item: str | None = "item", scope: Scope = NO_SCOPE
) -> Ref:
    """The `Ref` for a parsed path; `item` is the for_each name in scope (None outside for_each), `scope`
    the names a collaboration step defines there."""
    head, rest = segments[0], segments[1:]
    if head in scope:
        return Ref("scope", None, rest, text, str(head))
    if head == "input":
        return Ref("input", None, rest, text)
    if head == "steps":
        if not rest or not isinstance(rest[0], str):
            raise ExpressionError(text, "expected steps.<id>.output... or steps.<id>.status")
        step, tail = rest[0], rest[1:]
        if tail[:1] == ("output",) or tail == ("status",):
            return Ref("steps", step, tail, text)
        raise ExpressionError(text, f"expected steps.{step}.output... or steps.{step}.status")
    if item is not None and head == item:
        return Ref("item", None, rest, text)
    names = ", ".join(n for n in ("input", "steps", item, *sorted(scope)) if n)
    raise ExpressionError(text, f"unknown name {head!r}, expected {names}")


def parse_ref(text: str, *, item: str | None = "item", scope: Scope = NO_SCOPE) -> Ref:
    """The `Ref` for the expression inside one `${{ }}`."""
    stripped = text.strip()
    return classify(parse_path(stripped), stripped, item=item, scope=scope)


# -- templates -----------------------------------------------------------------------------------


def expressions(text: str) -> list[str]:
    """The expressions of every `${{ }}` in a string; raises `ExpressionError` on an unterminated one."""
    if _OPEN not in text:
        return []
    found = [m.group(1).strip() for m in TEMPLATE.finditer(text)]
    if _OPEN in TEMPLATE.sub("", text):
        raise ExpressionError(text, "'${{' without its closing '}}'")
    return found


def single(text: str) -> str | None:
    """The expression when the whole string is exactly one `${{ }}`, else None."""
    match = TEMPLATE.fullmatch(text)
    if match is None or _OPEN in match.group(1) or "}}" in match.group(1):
        return None
    return match.group(1).strip()


def strings(value: Any, location: Location = ()) -> Iterator[tuple[Location, str]]:
    """Every string in a nested dict/list value (values only, not keys) with its location."""
    if isinstance(value, str):
        yield location, value
    elif isinstance(value, Mapping):
        for key, child in value.items():
            yield from strings(child, (*location, key))
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from strings(child, (*location, index))


def has_refs(value: Any) -> bool:
    """Whether any string inside `value` holds `${{`."""
    return any(_OPEN in text for _, text in strings(value))


def references(value: Any, *, item: str | None = "item", scope: Scope = NO_SCOPE) -> list[Ref]:
    """Every reference in a nested dict/list/str value, in document order."""
    return [
        parse_ref(expr, item=item, scope=scope) for _, text in strings(value) for expr in expressions(text)
    ]


# -- rendering -----------------------------------------------------------------------------------


def resolve(text: str, context: Mapping[str, Any]) -> Any:
    """The value a path names in `context`; raises `RenderError` when it does not exist."""
    segments = parse_path(text)
    value = _walk(context, segments)
    if value is _MISSING:
        raise RenderError(text.strip(), _missing_reason(context, segments))
    return value


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """`value` with every reference substituted from `context` (see the module docstring)."""
    if isinstance(value, str):
        return _render_text(value, context)
    if isinstance(value, Mapping):
        return {key: render(child, context) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [render(child, context) for child in value]
    return value


def _render_text(text: str, context: Mapping[str, Any]) -> Any:
    if _OPEN not in text:
        return text
    expr = single(text)
    if expr is not None:
        return resolve(expr, context)
    expressions(text)
    return TEMPLATE.sub(lambda m: _inline(resolve(m.group(1), context)), text)


def _inline(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _walk(value: Any, segments: tuple[Segment, ...]) -> Any:
    for segment in segments:
        if isinstance(segment, str) and isinstance(value, Mapping):
            value = value.get(segment, _MISSING)
        elif isinstance(segment, int) and isinstance(value, list | tuple) and segment < len(value):
            value = value[segment]
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _missing_reason(context: Mapping[str, Any], segments: tuple[Segment, ...]) -> str:
    value: Any = context
    for depth, segment in enumerate(segments):
        found = _walk(value, (segment,))
        if found is _MISSING:
            where = format_path(segments[:depth]) or "the context"
            if value is None:
                return f"{where} is null"
            return f"{where} has no {segment!r}"
        value = found
    return "not found"


# -- conditions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed `when` expression: its syntax tree, the references it uses and its literal comparisons."""

    text: str
    tree: ast.expr
    refs: tuple[Ref, ...]
    comparisons: tuple[tuple[Ref, tuple[Any, ...]], ...]


_REFUSED = {
    ast.Call: "function calls are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "assignment expressions are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.BinOp: "arithmetic is not allowed",
}


def unwrap(when: str) -> str:
    """The expression of a condition, without the optional `${{ }}` around it."""
    expr = single(when.strip())
    return (expr if expr is not None else when).strip()


@lru_cache(maxsize=4096)
def parse_condition(when: str, *, item: str | None = "item", scope: Scope = NO_SCOPE) -> Condition:
    """Parse and check a condition against the whitelist; raises `ExpressionError`."""
    text = unwrap(when)
    if not text:
        raise ExpressionError(when, "empty condition")
    if _OPEN in text:
        raise ExpressionError(when, "a condition is one expression; write ${{ a and b }}, not two ${{ }}")
    refs: list[Ref] = []
    comparisons: list[tuple[Ref, tuple[Any, ...]]] = []
    try:
        tree = ast.parse(text, mode="eval").body
        _check(tree, text, item, scope, refs, comparisons)
    except SyntaxError as exc:
        raise ExpressionError(text, f"invalid syntax: {exc.msg}") from None
    except RecursionError:
        raise ExpressionError(text[:80], "nested too deeply") from None
    return Condition(text, tree, tuple(refs), tuple(comparisons))


def condition_refs(when: str, *, item: str | None = "item", scope: Scope = NO_SCOPE) -> list[Ref]:
    """The references a condition uses; raises `ExpressionError` when it is refused."""
    return list(parse_condition(when, item=item, scope=scope).refs)


def evaluate(
    when: str, context: Mapping[str, Any], *, item: str | None = "item", scope: Scope = NO_SCOPE
) -> bool:
    """The truth of a condition in `context`; missing paths are null."""
    return bool(_eval(parse_condition(when, item=item, scope=scope).tree, context))


def _is_path(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return isinstance(node, ast.Name) and node.id not in _CONSTANTS


def _literal(node: ast.expr) -> tuple[bool, Any]:
    if isinstance(node, ast.Constant):
        return True, node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return True, _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        ok, value = _literal(node.operand)
        if ok and _is_number(value):
            return True, -value
    return False, None


def _check(
    node: ast.expr,
    text: str,
    item: str | None,
    scope: Scope,
    refs: list[Ref],
    comparisons: list[tuple[Ref, tuple[Any, ...]]],
) -> None:
    def check(child: ast.expr) -> None:
        _check(child, text, item, scope, refs, comparisons)

    if isinstance(node, ast.BoolOp):
        for value in node.values:
            check(value)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub):
            raise ExpressionError(text, f"operator {type(node.op).__name__} is not allowed")
        check(node.operand)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise ExpressionError(text, f"comparison {type(op).__name__} is not allowed")
        for operand in (node.left, *node.comparators):
            check(operand)
        _collect_comparison(node, text, item, scope, comparisons)
    elif isinstance(node, ast.Constant):
        if node.value is not None and type(node.value) not in (str, int, float, bool):
            raise ExpressionError(text, f"constant {node.value!r} is not allowed")
    elif isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            check(element)
    elif isinstance(node, ast.Name) and node.id in _CONSTANTS:
        pass
    elif isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
        if not _is_path(node):
            raise ExpressionError(text, f"{_describe(node)} is only allowed on a path such as input.x")
        path = ast.unparse(node)
        refs.append(classify(_segments(node, path), path, item=item, scope=scope))
    else:
        raise ExpressionError(text, _REFUSED.get(type(node), f"{_describe(node)} is not allowed"))


def _collect_comparison(
    node: ast.Compare,
    text: str,
    item: str | None,
    scope: Scope,
    comparisons: list[tuple[Ref, tuple[Any, ...]]],
) -> None:
    if len(node.ops) != 1 or not _is_path(node.left):
        return
    op, right = node.ops[0], node.comparators[0]
    values: list[Any] = []
    if isinstance(op, ast.Eq | ast.NotEq):
        ok, value = _literal(right)
        if not ok:
            return
        values.append(value)
    elif isinstance(op, ast.In | ast.NotIn) and isinstance(right, ast.List | ast.Tuple):
        for element in right.elts:
            ok, value = _literal(element)
            if not ok:
                return
            values.append(value)
    else:
        return
    path = ast.unparse(node.left)
    comparisons.append((classify(_segments(node.left, path), path, item=item, scope=scope), tuple(values)))


_NODES = {
    ast.BinOp: "an operator",
    ast.BoolOp: "and/or",
    ast.Compare: "a comparison",
    ast.Call: "a function call",
    ast.Constant: "a constant",
    ast.UnaryOp: "an operator",
}


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"attribute access (.{node.attr})"
    if isinstance(node, ast.Subscript):
        return "indexing"
    return _NODES.get(type(node), type(node).__name__)


def _eval(node: ast.expr, context: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        result: Any = None
        for value in node.values:
            result = _eval(value, context)
            if isinstance(node.op, ast.And) != bool(result):
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, context)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if _is_number(operand) else None
    if isinstance(node, ast.Compare):
        left = _eval(node.left, context)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, context)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(element, context) for element in node.elts]
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    value = _walk(context, _segments(node, ""))
    return None if value is _MISSING else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return bool(left == right)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        if (_is_number(left) and _is_number(right)) or (isinstance(left, str) and isinstance(right, str)):
            return compare(left, right)
        return False

    return apply


def _contains(left: Any, right: Any) -> bool:
    if isinstance(right, list | tuple):
        return any(_equal(left, element) for element in right)
    if isinstance(right, str | Mapping):
        return isinstance(left, str) and left in right
    return False


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: _equal,
    ast.NotEq: lambda left, right: not _equal(left, right),
    ast.Lt: _ordered(operator.lt),
    ast.LtE: _ordered(operator.le),
    ast.Gt: _ordered(operator.gt),
    ast.GtE: _ordered(operator.ge),
    ast.In: _contains,
    ast.NotIn: lambda left, right: not _contains(left, right),
}
