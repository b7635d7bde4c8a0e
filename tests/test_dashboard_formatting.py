"""Numbers on the dashboard as a reader of its language expects them (Babel's CLDR data), and changes judged by
the KPI's direction in words and an icon (services/api/dashboard/formatting.py)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.api.dashboard import formatting
from services.api.dashboard.export import cell
from services.api.dashboard.i18n import use_locale
from shared.periods import parse_period


@pytest.mark.parametrize(
    ("amount", "unit", "currency", "locale", "shown"),
    [
        ("74429.5", "currency", "USD", "en", "$74,429.50"),
        ("74429.5", "currency", "USD", "vi", "74.429,50\xa0US$"),
        ("1.404", "currency", "USD", "en", "$1.40"),
        ("1250000", "currency", "VND", "vi", "1.250.000\xa0₫"),  # the dong has no minor unit
        ("1250000", "currency", "VND", "en", "₫1,250,000"),
        ("2.345", "percent", None, "en", "2.3%"),
        ("2.345", "percent", None, "vi", "2,3%"),
        ("123456", "count", None, "en", "123,456"),
        ("123456", "count", None, "vi", "123.456"),
        ("1.5", "ratio", None, "vi", "1,5"),
        (None, "currency", "USD", "en", "—"),
    ],
)
def test_values_are_shown_by_unit_currency_and_locale(amount, unit, currency, locale, shown):
    assert formatting.value(None if amount is None else Decimal(amount), unit, currency, locale) == shown


@pytest.mark.parametrize(
    ("pct", "direction", "verdict", "icon", "arrow"),
    [
        ("124.8", "lower_is_better", "worse", "✕", "▲"),  # spend up where lower is better: bad, in words
        ("-10", "lower_is_better", "better", "✓", "▼"),
        ("12.5", "higher_is_better", "better", "✓", "▲"),
        ("-3", "higher_is_better", "worse", "✕", "▼"),
        ("5", "target_range", "", "", "▲"),  # a range does not say which way is good
        ("0", "higher_is_better", "no change", "", "＝"),
    ],
)
def test_a_change_is_judged_by_the_kpis_direction(pct, direction, verdict, icon, arrow):
    found = formatting.change(Decimal(pct), direction, "en")
    assert (found.verdict, found.icon, found.arrow) == (verdict, icon, arrow)
    assert formatting.change(None, direction, "en") is None


def test_changes_and_words_follow_the_language():
    with use_locale("vi"):
        found = formatting.change(Decimal("124.8"), "lower_is_better")
        assert found.text == "+124,8%" and found.verdict == "xấu hơn"
        assert formatting.period_name(parse_period("2026-11")) == "tháng 11 năm 2026"
        assert formatting.days(date(2026, 11, 1), date(2026, 11, 30)) == "1\u2009–\u200930 thg 11, 2026"
    assert formatting.change(Decimal("124.8"), "lower_is_better", "en").text == "+124.8%"
    assert formatting.period_name(parse_period("2026-11"), "en") == "November 2026"
    assert formatting.period_name(parse_period("2026-Q4"), "en") == "Q4 2026"


def test_times_are_shown_in_the_organisations_zone():
    at = datetime(2026, 11, 20, 17, 30, tzinfo=UTC)
    assert formatting.moment(at, "Asia/Ho_Chi_Minh", "en") == "Nov 21, 2026, 12:30:00\u202fAM"
    assert "21" in formatting.moment(at, "Asia/Ho_Chi_Minh", "vi")


@pytest.mark.parametrize(
    ("given", "written"),
    [
        (Decimal("100.00"), "100"),
        (Decimal("33.3333"), "33.3333"),
        (Decimal("1.333333333333333333333333333"), "1.333333"),
        (Decimal("80.65000000"), "80.65"),
        (Decimal("-5"), "-5"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 buy now", "'+1 buy now"),
        ("-2", "-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        (None, ""),
        ("Chi phí quảng cáo", "Chi phí quảng cáo"),
    ],
)
def test_csv_cells_are_plain_numbers_and_never_formulas(given, written):
    assert cell(given) == written


def test_halves_round_up_as_in_a_spreadsheet():
    assert formatting.value(Decimal("1.25"), "percent", None, "en") == "1.3%"
    assert formatting.value(Decimal("0.125"), "currency", "USD", "en") == "$0.13"
    assert formatting.percent(Decimal("80.65"), "en") == "80.7%"
