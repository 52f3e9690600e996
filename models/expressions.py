"""A safe expression language for segment rules: comparisons, boolean logic and membership.

Rules come from YAML that marketing and data people edit, so they are never handed to `eval`.
The text is parsed with `ast` and only a whitelist of node types is accepted (names, string,
number and boolean literals, lists and tuples of literals, comparisons including chained ones
and `in` / `not in`, `and` / `or` / `not`, a leading minus on a number). Calls, attribute
access, subscripts, arithmetic, comprehensions, lambdas and names that start with an
underscore are rejected with an error that names the rule and the offending construct. The
accepted tree is compiled once into plain Python closures; evaluating a rule never runs
Python code taken from the rule text.

Missing values follow three-valued (Kleene) logic, as in SQL: a name that is absent, `None`
or NaN is *unknown*, a comparison with an unknown is unknown, `not unknown` is unknown,
`False and unknown` is False and `True or unknown` is True. A rule matches a row only when it
is True, so `loyalty_tier != 'vip'` does not match a customer whose tier is unknown.

>>> rule = compile_expression("country == 'DE' and loyalty_tier in ['gold', 'vip']")
>>> rule.evaluate({"country": "DE", "loyalty_tier": "gold"})
True
>>> rule.evaluate({"country": "FR", "loyalty_tier": None})
False
>>> print(rule.evaluate({"country": "DE"}))
None
>>> sorted(rule.names)
['country', 'loyalty_tier']
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Scalar = str | int | float | bool
Truth = bool | None
"""True, False or None for unknown."""
Row = Mapping[str, object]
ValueKind = Literal["number", "string"]

MAX_EXPRESSION_CHARS = 2000
MAX_DEPTH = 32
MAX_LIST_ITEMS = 1000
BOOLEAN_NAMES = {"true": True, "false": False}
"""YAML-style booleans; Python's True and False work too."""

_Getter = Callable[[Row], object]
_Predicate = Callable[[Row], Truth]


class ExpressionError(ValueError):
    """A rule's text is not a valid, safe expression; the message says where and why."""

    def __init__(self, rule: str, problem: str) -> None:
        super().__init__(f"segment rule {rule!r}: {problem}")
        self.rule = rule
        self.problem = problem


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A rule compiled once; `evaluate` is cheap and safe to call per row."""

    source: str
    names: frozenset[str]
    _predicate: _Predicate

    def evaluate(self, row: Row) -> Truth:
        """True, False, or None when missing values leave the answer unknown."""
        return self._predicate(row)

    def matches(self, row: Row) -> bool:
        return self._predicate(row) is True


def compile_expression(
    source: str,
    rule: str = "<expression>",
    known_names: frozenset[str] | None = None,
    name_types: Mapping[str, ValueKind] | None = None,
) -> CompiledExpression:
    """Parse, check and compile `source`; `rule` names it in errors.

    With `known_names`, a name outside that set is an error (a typo caught at load time
    rather than a rule that silently never matches). With `name_types`, comparing a name of
    one kind with a literal of the other (`loyalty_tier == 3`, `is_staff == 'yes'`) is an
    error for the same reason.
    """
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError(rule, "the expression is empty")
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(rule, f"the expression is longer than {MAX_EXPRESSION_CHARS} chars")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(rule, f"syntax error at column {exc.offset}: {exc.msg}") from None
    compiler = _Compiler(rule, name_types or {})
    predicate = compiler.boolean(tree.body, depth=0)
    if known_names is not None:
        unknown = sorted(compiler.names - known_names)
        if unknown:
            raise ExpressionError(rule, f"unknown name(s) {', '.join(unknown)}")
    return CompiledExpression(source, frozenset(compiler.names), predicate)


def normalise(value: object) -> object:
    """None for missing (None or NaN); numpy scalars as Python ones; the rest unchanged."""
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        value = item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


_ORDERING: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float)


def _equal(left: object, right: object) -> Truth:
    if left is None or right is None:
        return None
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def _compare(op: ast.cmpop, left: object, right: object) -> Truth:
    """One comparison with missing-aware, type-safe semantics (never raises)."""
    if isinstance(op, ast.In | ast.NotIn):
        if left is None or not isinstance(right, tuple):
            return None
        found = any(_equal(left, item) is True for item in right)
        return found if isinstance(op, ast.In) else not found
    if isinstance(op, ast.Eq):
        return _equal(left, right)
    if isinstance(op, ast.NotEq):
        equal = _equal(left, right)
        return None if equal is None else not equal
    if left is None or right is None:
        return None
    both_numbers = _is_number(left) and _is_number(right)
    both_strings = isinstance(left, str) and isinstance(right, str)
    if not (both_numbers or both_strings):
        return None  # ordering a string against a number has no answer
    return bool(_ORDERING[type(op)](left, right))


def _and(parts: list[_Predicate]) -> _Predicate:
    def evaluate(row: Row) -> Truth:
        result: Truth = True
        for part in parts:
            value = part(row)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return evaluate


def _or(parts: list[_Predicate]) -> _Predicate:
    def evaluate(row: Row) -> Truth:
        result: Truth = False
        for part in parts:
            value = part(row)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return evaluate


def _not(part: _Predicate) -> _Predicate:
    def evaluate(row: Row) -> Truth:
        value = part(row)
        return None if value is None else not value

    return evaluate


def _comparison(op: ast.cmpop, left: _Getter, right: _Getter) -> _Predicate:
    return lambda row: _compare(op, left(row), right(row))


def _truthy(getter: _Getter) -> _Predicate:
    """A bare name or literal used as a condition: missing is unknown, else its truth."""

    def evaluate(row: Row) -> Truth:
        value = getter(row)
        return None if value is None else bool(value)

    return evaluate


class _Compiler:
    """Walks the parsed tree once, rejecting anything outside the whitelist."""

    def __init__(self, rule: str, name_types: Mapping[str, ValueKind]) -> None:
        self.rule = rule
        self.name_types = name_types
        self.names: set[str] = set()

    def fail(self, node: ast.AST, problem: str) -> ExpressionError:
        column = getattr(node, "col_offset", None)
        where = f" at column {column + 1}" if column is not None else ""
        return ExpressionError(self.rule, f"{problem}{where}")

    def boolean(self, node: ast.expr, depth: int) -> _Predicate:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.BoolOp):
            parts = [self.boolean(value, depth + 1) for value in node.values]
            return _and(parts) if isinstance(node.op, ast.And) else _or(parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return _not(self.boolean(node.operand, depth + 1))
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.Name | ast.Constant):
            return _truthy(self.value(node, depth + 1))
        raise self.fail(node, self.describe(node))

    def compare(self, node: ast.Compare, depth: int) -> _Predicate:
        operands = [node.left, *node.comparators]
        checks = []
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if isinstance(op, ast.Is | ast.IsNot):
                raise self.fail(node, "'is' / 'is not' are not supported; use == or !=")
            self.check_kinds(left, right)
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.List | ast.Tuple):
                    raise self.fail(right, "'in' needs a literal list, e.g. x in ['a', 'b']")
                checks.append(_comparison(op, self.value(left, depth + 1), self.items(right)))
            else:
                left_get, right_get = self.value(left, depth + 1), self.value(right, depth + 1)
                checks.append(_comparison(op, left_get, right_get))
        return checks[0] if len(checks) == 1 else _and(checks)

    def check_kinds(self, left: ast.expr, right: ast.expr) -> None:
        """A name of a known kind compared with literals of the other kind never matches."""
        for name, other in ((left, right), (right, left)):
            if not isinstance(name, ast.Name) or name.id not in self.name_types:
                continue
            literals = other.elts if isinstance(other, ast.List | ast.Tuple) else [other]
            for literal in literals:
                if not isinstance(literal, ast.Constant) or isinstance(literal.value, bool):
                    continue
                kind = "string" if isinstance(literal.value, str) else "number"
                expected = self.name_types[name.id]
                if kind != expected:
                    raise self.fail(
                        literal,
                        f"{name.id!r} holds {expected}s but is compared with "
                        f"the {kind} {literal.value!r}",
                    )

    def items(self, node: ast.List | ast.Tuple) -> _Getter:
        if len(node.elts) > MAX_LIST_ITEMS:
            raise self.fail(node, f"a list may hold at most {MAX_LIST_ITEMS} items")
        values = tuple(self.literal(item) for item in node.elts)
        return lambda row: values

    def value(self, node: ast.expr, depth: int) -> _Getter:
        if isinstance(node, ast.Name) and node.id not in BOOLEAN_NAMES:
            name = node.id
            if name.startswith("_"):
                raise self.fail(node, f"names starting with '_' are not allowed ({name!r})")
            self.names.add(name)
            return lambda row: normalise(row.get(name))
        value = self.literal(node)
        return lambda row: value

    def literal(self, node: ast.expr) -> Scalar:
        if isinstance(node, ast.Name) and node.id in BOOLEAN_NAMES:
            return BOOLEAN_NAMES[node.id]
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool | int | float | str) and not (
                isinstance(value, float) and not math.isfinite(value)
            ):
                return value
            raise self.fail(node, f"literal {value!r} is not a string, number or true/false")
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
        ):
            number = node.operand.value
            if isinstance(number, int | float) and not isinstance(number, bool):
                return -number
        problem = self.describe(node)
        if isinstance(node, ast.Name | ast.Compare | ast.BoolOp | ast.List | ast.Tuple):
            problem = f"{problem}: only literals may appear here"
        raise self.fail(node, problem)

    def describe(self, node: ast.AST) -> str:
        """Why a node is refused, in the words of someone writing a rule."""
        if isinstance(node, ast.Call):
            return "function calls are not allowed"
        if isinstance(node, ast.Attribute):
            return f"attribute access ('.{node.attr}') is not allowed"
        if isinstance(node, ast.Subscript):
            return "indexing ('[...]') is not allowed"
        if isinstance(node, ast.BinOp | ast.UnaryOp):
            return "arithmetic is not allowed; compare names with literals"
        if isinstance(node, ast.Lambda):
            return "lambda is not allowed"
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            return "comprehensions are not allowed"
        if isinstance(node, ast.JoinedStr):
            return "f-strings are not allowed"
        if isinstance(node, ast.NamedExpr):
            return "assignment (':=') is not allowed"
        if isinstance(node, ast.List | ast.Tuple):
            return "a list can only follow 'in' / 'not in'"
        if isinstance(node, ast.Name):
            return f"name {node.id!r}"
        return f"{type(node).__name__} expressions are not allowed"
