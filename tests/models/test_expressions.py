"""The segment rule language: what it refuses (safety) and what it means (semantics)."""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.expressions import ExpressionError, Truth, compile_expression

# --- safety -------------------------------------------------------------------------------

REFUSED = [
    ("__import__('os').system('echo pwned')", "function calls are not allowed"),
    ("open('/etc/passwd') == 'x'", "function calls are not allowed"),
    ("country.upper() == 'DE'", "function calls are not allowed"),
    ("country.upper == 'DE'", "attribute access ('.upper') is not allowed"),
    ("().__class__.__bases__ == 1", "attribute access ('.__bases__') is not allowed"),
    ("__builtins__ == 1", "names starting with '_' are not allowed ('__builtins__')"),
    ("_private == 1", "names starting with '_' are not allowed"),
    ("country[0] == 'D'", "indexing ('[...]') is not allowed"),
    ("(lambda: 1) == 1", "lambda is not allowed"),
    ("[c for c in 'ab'] == 1", "comprehensions are not allowed"),
    ("f'{country}' == 'DE'", "f-strings are not allowed"),
    ("(tier := 'vip') == 'vip'", "assignment (':=') is not allowed"),
    ("orders_count_365d + 1 > 2", "arithmetic is not allowed"),
    ("country is 'DE'", "'is' / 'is not' are not supported"),
    ("country == None", "literal None is not a string, number or true/false"),
    ("country == b'DE'", "literal b'DE' is not a string, number or true/false"),
    ("orders_count_365d > 1e999", "is not a string, number or true/false"),
    ("'D' in country", "'in' needs a literal list"),
    ("country in [other]", "name 'other': only literals may appear here"),
    ("country == 'DE' if vip else 1", "IfExp expressions are not allowed"),
    ("{'a': 1} == country", "Dict expressions are not allowed"),
    ("country == 'DE'; import os", "syntax error"),
    ("import os", "syntax error"),
    ("   ", "the expression is empty"),
    ("x == 1 or " * 400 + "x == 1", "longer than 2000"),
    ("not " * 40 + "x", "nested deeper than 32"),
]


@pytest.mark.parametrize(("source", "problem"), REFUSED)
def test_unsafe_or_invalid_rules_are_refused_naming_the_rule(source: str, problem: str) -> None:
    with pytest.raises(ExpressionError) as error:
        compile_expression(source, rule="my_segment")
    assert str(error.value).startswith("segment rule 'my_segment': ")
    assert problem in str(error.value)


def test_compiling_and_evaluating_never_call_eval_or_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    rule = compile_expression("country == 'DE' and tier in ['gold', 'vip'] or not orders > 3")
    assert rule.evaluate({"country": "DE", "tier": "vip", "orders": 1}) is True


def test_a_row_cannot_smuggle_code_through_values() -> None:
    rule = compile_expression("country == '__import__(\"os\")'")
    assert rule.evaluate({"country": "__import__('os')"}) is False


def test_unknown_names_are_refused_when_the_names_are_known() -> None:
    with pytest.raises(ExpressionError, match="unknown name\\(s\\) contry"):
        compile_expression("contry == 'DE'", "de", known_names=frozenset({"country"}))


def test_comparing_a_name_with_a_literal_of_the_other_kind_is_refused() -> None:
    kinds = {"loyalty_tier": "string", "is_staff": "number"}
    with pytest.raises(ExpressionError, match="'loyalty_tier' holds strings but is compared"):
        compile_expression("loyalty_tier == 3", "t", name_types=kinds)  # type: ignore[arg-type]
    with pytest.raises(ExpressionError, match="'is_staff' holds numbers but is compared"):
        compile_expression("is_staff in [1, 'yes']", "s", name_types=kinds)  # type: ignore[arg-type]


# --- semantics ----------------------------------------------------------------------------


def test_the_issue_examples() -> None:
    de_premium = compile_expression("country == 'DE' and loyalty_tier in ['gold', 'vip']")
    assert de_premium.matches({"country": "DE", "loyalty_tier": "gold"})
    assert not de_premium.matches({"country": "DE", "loyalty_tier": "silver"})
    serial = compile_expression(
        "returned_items_rate_365d >= 0.5 and return_requests_count_365d >= 3"
    )
    assert serial.matches({"returned_items_rate_365d": 0.5, "return_requests_count_365d": 3.0})
    assert not serial.matches({"returned_items_rate_365d": 0.7, "return_requests_count_365d": 2.0})
    assert compile_expression("age_band == '25-34'").names == frozenset({"age_band"})


def test_missing_values_are_unknown_and_never_match() -> None:
    for missing in ({}, {"tier": None}, {"tier": math.nan}):
        assert compile_expression("tier != 'vip'").evaluate(missing) is None
        assert compile_expression("not tier == 'vip'").evaluate(missing) is None
        assert compile_expression("tier not in ['vip']").evaluate(missing) is None
    assert compile_expression("tier == 'vip' or n > 1").evaluate({"n": 2}) is True
    assert compile_expression("tier == 'vip' and n > 1").evaluate({"n": 0}) is False


def test_chained_comparisons_negative_numbers_booleans_and_numpy_scalars() -> None:
    numpy = pytest.importorskip("numpy")
    band = compile_expression("0.2 <= rate < 0.5")
    assert [band.evaluate({"rate": r}) for r in (0.1, 0.2, 0.49, 0.5)] == [False, True, True, False]
    assert compile_expression("delta > -1").matches({"delta": -0.5})
    assert compile_expression("opted_in == true").matches({"opted_in": True})
    assert compile_expression("is_staff").matches({"is_staff": 1.0})
    assert compile_expression("rate >= 0.5").matches({"rate": numpy.float64(0.7)})
    assert compile_expression("rate >= 0.5").evaluate({"rate": numpy.float64("nan")}) is None


def test_mixed_types_compare_unequal_and_do_not_order() -> None:
    assert compile_expression("age_band == 25").evaluate({"age_band": "25"}) is False
    assert compile_expression("age_band > 25").evaluate({"age_band": "25"}) is None
    assert compile_expression("n in ['1', 2]").evaluate({"n": 2.0}) is True


# A generated rule is a tree; `render` writes it as rule text and `reference` evaluates the
# tree directly with the documented semantics, so parsing, precedence and chaining are tested
# against something that never goes through the compiler.

NAMES = ("a", "b", "c")
SCALARS = st.one_of(
    st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0]), st.sampled_from(["x", "y", "z"])
)
VALUES = st.one_of(st.none(), st.just(math.nan), SCALARS)
OPS = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Cmp:
    name: str
    op: str
    literal: object


@dataclass(frozen=True)
class In:
    name: str
    items: tuple[object, ...]
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Not:
    operand: object


leaves = st.one_of(
    st.builds(Cmp, st.sampled_from(NAMES), st.sampled_from(OPS), SCALARS),
    st.builds(In, st.sampled_from(NAMES), st.lists(SCALARS, max_size=3).map(tuple), st.booleans()),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(BoolOp, st.sampled_from(["and", "or"]), inner, inner), st.builds(Not, inner)
    ),
    max_leaves=6,
)


def render(tree: object) -> str:
    if isinstance(tree, Cmp):
        return f"{tree.name} {tree.op} {tree.literal!r}"
    if isinstance(tree, In):
        return f"{tree.name} {'not in' if tree.negated else 'in'} {list(tree.items)!r}"
    if isinstance(tree, BoolOp):
        return f"({render(tree.left)}) {tree.op} ({render(tree.right)})"
    assert isinstance(tree, Not)
    return f"not ({render(tree.operand)})"


def is_number(value: object) -> bool:
    return isinstance(value, int | float)


def equal(left: object, right: object) -> Truth:
    if left is None:
        return None
    if is_number(left) and is_number(right):
        return left == right
    return type(left) is type(right) and left == right


def reference(tree: object, row: dict[str, object]) -> Truth:
    if isinstance(tree, BoolOp | Not):
        parts = [tree.left, tree.right] if isinstance(tree, BoolOp) else [tree.operand]
        values = [reference(p, row) for p in parts]
        if isinstance(tree, Not):
            return None if values[0] is None else not values[0]
        decisive = tree.op == "or"  # True decides an `or`, False decides an `and`
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    value = row.get(tree.name)  # type: ignore[attr-defined]
    if isinstance(value, float) and math.isnan(value):
        value = None
    if isinstance(tree, In):
        if value is None:
            return None
        found = any(equal(value, item) is True for item in tree.items)
        return not found if tree.negated else found
    assert isinstance(tree, Cmp)
    if tree.op in ("==", "!="):
        same = equal(value, tree.literal)
        return same if same is None or tree.op == "==" else not same
    if value is None or not (
        (is_number(value) and is_number(tree.literal))
        or (isinstance(value, str) and isinstance(tree.literal, str))
    ):
        return None
    return {
        "<": value < tree.literal,  # type: ignore[operator]
        "<=": value <= tree.literal,  # type: ignore[operator]
        ">": value > tree.literal,  # type: ignore[operator]
        ">=": value >= tree.literal,  # type: ignore[operator]
    }[tree.op]


@settings(max_examples=300, deadline=None)
@given(tree=trees, row=st.fixed_dictionaries({}, optional={n: VALUES for n in NAMES}))
def test_compiled_rules_agree_with_the_reference_semantics(tree: object, row: dict) -> None:
    assert compile_expression(render(tree)).evaluate(row) == reference(tree, row)


@settings(max_examples=200, deadline=None)
@given(tree=trees, row=st.fixed_dictionaries({n: st.integers(-3, 3) for n in NAMES}))
def test_with_complete_numeric_rows_rules_mean_what_python_means(tree: object, row: dict) -> None:
    """Python itself is the oracle where its semantics and ours coincide (numbers, no missing
    values): `eval` runs here, in the test, on rule text the test generated."""
    source = render(tree)
    if any(isinstance(v, str) for v in _literals(tree)):
        return  # Python compares str with int as unequal too, but cannot order them
    expected = eval(source, {"__builtins__": {}}, dict(row))  # noqa: S307 - test oracle
    assert compile_expression(source).evaluate(row) is bool(expected)


def _literals(tree: object) -> list[object]:
    if isinstance(tree, Cmp):
        return [tree.literal]
    if isinstance(tree, In):
        return list(tree.items)
    if isinstance(tree, BoolOp):
        return _literals(tree.left) + _literals(tree.right)
    assert isinstance(tree, Not)
    return _literals(tree.operand)
