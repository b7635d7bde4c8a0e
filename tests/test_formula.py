"""KPI formulas: arithmetic over metric keys, parsed safely; bad formulas fail with our own error only."""

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.kpis.formula import BinOp, Formula, FormulaError, Metric, Neg, Num, parse_formula

D = Decimal


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("spend / clicks", {"spend": D("120"), "clicks": D("60")}, D("2")),
        ("(revenue - spend) / spend", {"revenue": D("300"), "spend": D("100")}, D("2")),
        ("clicks / impressions * 100", {"clicks": D("5"), "impressions": D("200")}, D("2.5")),
        ("revenue - spend - 10", {"revenue": D("100"), "spend": D("30")}, D("60")),
        ("revenue - (spend - 10)", {"revenue": D("100"), "spend": D("30")}, D("80")),
        ("spend / clicks / 2", {"spend": D("100"), "clicks": D("5")}, D("10")),
        ("-spend + 3 * 2", {"spend": D("1")}, D("5")),
        ("--spend", {"spend": D("4")}, D("4")),
        ("  nps_score  ", {"nps_score": D("42")}, D("42")),
        ("0.5 * leads", {"leads": D("10")}, D("5.0")),
    ],
)
def test_formulas_compute_in_decimal(text, values, expected):
    assert parse_formula(text).evaluate(values) == expected


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("spend / clicks", {"spend": D("10"), "clicks": D("0")}),
        ("spend / (clicks - clicks)", {"spend": D("10"), "clicks": D("3")}),
        ("spend / clicks", {"spend": D("10")}),
        ("spend / clicks", {"spend": D("10"), "clicks": None}),
    ],
)
def test_division_by_zero_or_a_missing_metric_gives_no_value(text, values):
    assert parse_formula(text).evaluate(values) is None


def test_a_formula_knows_the_metrics_it_reads():
    assert parse_formula("(revenue - spend) / spend + 1").metrics == {"revenue", "spend"}
    assert parse_formula("100").metrics == frozenset()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("spend /", "ends too early"),
        ("spend clicks", "unexpected 'clicks'"),
        ("(spend / clicks", "never closed"),
        ("spend / clicks)", "unexpected ')'"),
        ("Spend", "unexpected character 'S'"),
        ("spend ** 2", "expected a number"),
        ("__import__('os')", "unexpected character '_'"),
        ("spend; drop", "unexpected character ';'"),
        ("1e5", "unexpected 'e5'"),
        ("(" * 50 + "spend" + ")" * 50, "nests deeper"),
        ("spend + " * 100 + "spend", "longer than 500"),
    ],
)
def test_bad_formulas_say_what_is_wrong(text, message):
    with pytest.raises(FormulaError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        parse_formula(text)


def test_the_error_points_at_the_character():
    with pytest.raises(FormulaError) as caught:
        parse_formula("spend / $clicks")
    assert caught.value.position == 8 and "at character 9" in str(caught.value)


metric_keys = st.sampled_from(["spend", "clicks", "impressions", "revenue", "new_customers"])
numbers = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False).map(Num)
trees = st.recursive(
    st.one_of(metric_keys.map(Metric), numbers),
    lambda children: st.one_of(
        children.map(Neg), st.tuples(st.sampled_from("+-*/"), children, children).map(lambda t: BinOp(*t))
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_rendering_then_parsing_gives_the_same_formula(tree):
    formula = Formula(tree)
    assert parse_formula(formula.render()) == formula


@settings(max_examples=300, deadline=None)
@given(trees, st.dictionaries(metric_keys, st.decimals(min_value=-1000, max_value=1000, places=2), max_size=5))
def test_the_rendered_formula_computes_the_same_value(tree, values):
    formula = Formula(tree)
    assert parse_formula(formula.render()).evaluate(values) == formula.evaluate(values)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_any_text_parses_or_raises_only_our_error(text):
    with contextlib.suppress(FormulaError):
        parse_formula(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="spendclk_0123456789.+-*/() ", max_size=60))
def test_formula_like_text_parses_or_raises_only_our_error(text):
    try:
        formula = parse_formula(text)
    except FormulaError:
        return
    assert parse_formula(formula.render()) == formula
