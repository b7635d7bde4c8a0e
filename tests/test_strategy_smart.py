"""The SMART rules, case by case: an objective, and the verdict we expect for each letter.

Every case starts from an objective that passes all five letters and changes only what it tests.
The rules are documented as a table in docs/domains/strategy.md; this is that table, executable.
"""

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from shared.strategy.models import GoalStatus, ObjectiveStatus
from shared.strategy.smart import TYPICAL_GROWTH, GrowthBands, ObjectiveFacts, Verdict, check_smart

TODAY = date(2027, 3, 1)
D = Decimal

GOOD = ObjectiveFacts(
    statement="Raise monthly online orders from returning customers to 12,000",
    status=ObjectiveStatus.active,
    created_on=date(2027, 1, 1),
    unit="orders/month",
    baseline_value=D(9000),
    target_value=D(12000),  # +33% in 364 days
    start_date=date(2027, 1, 1),
    deadline=date(2027, 12, 31),
)

LETTERS = ("specific", "measurable", "achievable", "relevant", "time_bound")
VERDICT = {"P": Verdict.PASS, "W": Verdict.WARN, "F": Verdict.FAIL}


@dataclass(frozen=True)
class Case:
    name: str
    changes: dict[str, Any] = field(default_factory=dict)
    expect: str = "PPPPP"  # specific, measurable, achievable, relevant, time_bound
    reason: tuple[str, str] | None = None  # (letter, a phrase its reason must contain)
    kpis: int = 1
    goal: GoalStatus | None = GoalStatus.active
    growth: GrowthBands = TYPICAL_GROWTH

    @property
    def overall(self) -> Verdict:
        return VERDICT["F" if "F" in self.expect else "W" if "W" in self.expect else "P"]


CASES = [
    Case("a complete objective passes every letter", reason=("achievable", "needs +33% vs baseline in 12 months")),
    # specific
    Case("three words fail", {"statement": "Grow online sales"}, "FPPPP", ("specific", "3 words")),
    Case("one word fails", {"statement": "Revenue"}, "FPPPP", ("specific", "1 word;")),
    Case("punctuation is not words", {"statement": "— … — !"}, "FPPPP", ("specific", "0 words")),
    Case("four words are enough", {"statement": "Win enterprise retail accounts"}),
    Case(
        "a vague verb with no figure and no target warns",
        {"statement": "Improve our brand awareness overall", "target_value": None},
        "WFWPP",
        ("specific", "vague wording (improve)"),
    ),
    Case(
        "several vague words are all named",
        {"statement": "Boost and enhance more engagement", "target_value": None},
        "WFWPP",
        ("specific", "boost, enhance, more"),
    ),
    Case(
        "inflected vague verbs count",
        {"statement": "Improving website conversion for mobile", "target_value": None},
        "WFWPP",
        ("specific", "improving"),
    ),
    Case(
        "both spellings of optimise count",
        {"statement": "Optimize and optimise the checkout", "target_value": None},
        "WFWPP",
        ("specific", "optimise, optimize"),
    ),
    Case(
        "a figure in the statement makes a vague verb specific",
        {"statement": "Increase newsletter signups by 20%", "target_value": None},
        "PFWPP",
        ("specific", "a figure in the statement says how much"),
    ),
    Case(
        "a target value makes a vague verb specific",
        {"statement": "Increase newsletter signups among customers"},
        reason=("specific", "the target value says how much"),
    ),
    Case(
        "a concrete verb needs no figure",
        {"statement": "Launch the German web shop", "target_value": None},
        "PFWPP",
        ("specific", "concrete outcome"),
    ),
    Case("vague words are matched whole, not inside others", {"statement": "Moreover, refresh the growth-team"}),
    # measurable
    Case(
        "a target with a unit but no KPI linked yet warns",
        kpis=0,
        expect="PWPPP",
        reason=("measurable", "target 12000 orders/month set, but no KPI is linked yet"),
    ),
    Case(
        "a target with neither unit nor KPI warns",
        {"unit": None},
        kpis=0,
        expect="PWPPP",
        reason=("measurable", "has no unit"),
    ),
    Case(
        "no target and no KPI fails",
        {"target_value": None},
        "PFWPP",
        ("measurable", "no KPI linked and no numeric target"),
        kpis=0,
    ),
    Case("a linked KPI without a target fails", {"target_value": None}, "PFWPP", ("measurable", "2 KPIs linked"), 2),
    Case("a linked KPI supplies the unit", {"unit": None}, kpis=3, reason=("measurable", "measured by 3 KPIs")),
    # achievable
    Case("no baseline cannot be judged", {"baseline_value": None}, "PPWPP", ("achievable", "baseline not set")),
    Case(
        "no baseline and no target cannot be judged",
        {"baseline_value": None, "target_value": None},
        "PFWPP",
        ("achievable", "baseline and target not set"),
    ),
    Case("a zero baseline cannot be judged", {"baseline_value": D(0)}, "PPWPP", ("achievable", "baseline of 0")),
    Case("no deadline cannot be judged", {"deadline": None}, "PPWPF", ("achievable", "no deadline")),
    Case(
        "exactly 50% in a year passes",
        {"baseline_value": D(100), "target_value": D(150), "deadline": date(2028, 1, 1)},
        reason=("achievable", "+50% vs baseline in 12 months, within the 50%/year"),
    ),
    Case(
        "just over 50% in a year warns",
        {"baseline_value": D(1000), "target_value": D(1501), "deadline": date(2028, 1, 1)},
        "PPWPP",
        ("achievable", "more than the 50%/year we call typical"),
    ),
    Case(
        "exactly 200% in a year warns",
        {"baseline_value": D(100), "target_value": D(300), "deadline": date(2028, 1, 1)},
        "PPWPP",
        ("achievable", "+200%"),
    ),
    Case(
        "over 200% in a year fails",
        {"baseline_value": D(100), "target_value": D(301), "deadline": date(2028, 1, 1)},
        "PPFPP",
        ("achievable", "beyond the 200%/year we call a stretch"),
    ),
    Case(
        "a 30% cut in a year passes",
        {"baseline_value": D(50), "target_value": D(35), "deadline": date(2028, 1, 1)},
        reason=("achievable", "needs -30% vs baseline"),
    ),
    Case(
        "an 80% cut in a year warns",
        {"baseline_value": D(50), "target_value": D(10), "deadline": date(2028, 1, 1)},
        "PPWPP",
        ("achievable", "-80%"),
    ),
    Case(
        "25% in 90 days is 101% a year and warns",
        {"baseline_value": D(100), "target_value": D(125), "deadline": date(2027, 4, 1)},
        "PPWPP",
        ("achievable", "in 3 months (101%/year)"),
    ),
    Case(
        "5% in 30 days is 61% a year and warns",
        {
            "baseline_value": D(100),
            "target_value": D(105),
            "start_date": date(2027, 3, 1),
            "deadline": date(2027, 3, 31),
        },
        "PPWPP",
        ("achievable", "in 30 days (61%/year)"),
    ),
    Case(
        "100% in half a year is over 200% a year and fails",
        {"baseline_value": D(100), "target_value": D(200), "deadline": date(2027, 7, 2)},
        "PPFPP",
        ("achievable", "(201%/year)"),
    ),
    Case(
        "140% over three years passes",
        {"baseline_value": D(100), "target_value": D(240), "deadline": date(2030, 1, 1)},
        reason=("achievable", "+140% vs baseline in 36 months (47%/year)"),
    ),
    Case(
        "the creation date stands in for a missing start",
        {"start_date": None, "created_on": date(2027, 7, 1)},
        "PPWPP",
        ("achievable", "in 6 months"),
    ),
    Case(
        "a change due the day it starts fails",
        {"target_value": D(9090), "deadline": date(2027, 1, 1)},
        "PPFPW",
        ("achievable", "in 0 days (365%/year)"),
    ),
    Case("keeping the baseline passes", {"target_value": D(9000)}, reason=("achievable", "+0%")),
    Case(
        "a negative baseline is measured by its size",
        {"baseline_value": D(-100), "target_value": D(50), "deadline": date(2028, 1, 1)},
        "PPWPP",
        ("achievable", "+150%"),
    ),
    Case(
        "a tiny change shows as under 1%",
        {"baseline_value": D(10000), "target_value": D(10001)},
        reason=("achievable", "+<1%"),
    ),
    Case(
        "other growth bands (the KPI-history hook) change the verdict",
        {"baseline_value": D(100), "target_value": D(240), "deadline": date(2028, 1, 1)},
        "PPWPP",
        ("achievable", "more than the 100%/year we call this KPI's history"),
        growth=GrowthBands(pass_up_to=D(1), warn_up_to=D(3), basis="this KPI's history"),
    ),
    # relevant
    Case("no business goal fails", goal=None, expect="PPPFP", reason=("relevant", "not linked to a business goal")),
    Case("a dropped goal warns", goal=GoalStatus.dropped, expect="PPPWP", reason=("relevant", "goal is dropped")),
    Case("a missed goal warns", goal=GoalStatus.missed, expect="PPPWP", reason=("relevant", "goal is missed")),
    Case("an achieved goal warns", goal=GoalStatus.achieved, expect="PPPWP", reason=("relevant", "is achieved")),
    # time-bound
    Case("no deadline fails", {"deadline": None}, "PPWPF", ("time_bound", "no deadline")),
    Case(
        "a deadline before the start fails",
        {"deadline": date(2026, 12, 31)},
        "PPWPF",
        ("time_bound", "deadline 2026-12-31 is before the start 2027-01-01"),
    ),
    Case(
        "a passed deadline on an active objective warns",
        {"start_date": date(2026, 1, 1), "deadline": date(2027, 2, 1), "target_value": D(10000)},
        "PPPPW",
        ("time_bound", "passed 28 days ago and it is still active"),
    ),
    Case(
        "a passed deadline on a draft warns",
        {"status": ObjectiveStatus.draft, "start_date": date(2026, 1, 1), "deadline": date(2027, 2, 1)},
        "PPPPW",
        ("time_bound", "still draft"),
    ),
    *[
        Case(
            f"a passed deadline on a {status.value} objective passes",
            {"status": status, "start_date": date(2026, 1, 1), "deadline": date(2027, 2, 1)},
        )
        for status in (ObjectiveStatus.achieved, ObjectiveStatus.missed, ObjectiveStatus.cancelled)
    ],
    Case(
        "a deadline today has not passed",
        {"start_date": date(2026, 6, 1), "deadline": TODAY},
        reason=("time_bound", "deadline 2027-03-01"),
    ),
    Case("a deadline without a start passes", {"start_date": None, "created_on": date(2027, 1, 1)}),
    # overall
    Case(
        "an empty objective fails nearly everything",
        {
            "statement": "Sell",
            "unit": None,
            "baseline_value": None,
            "target_value": None,
            "start_date": None,
            "deadline": None,
        },
        "FFWFF",
        kpis=0,
        goal=None,
    ),
    Case("one warning makes the whole a warning", kpis=0, expect="PWPPP"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_smart_verdict_per_letter(case: Case):
    facts = replace(GOOD, **case.changes)
    check = check_smart(facts, linked_kpis=case.kpis, goal_status=case.goal, today=TODAY, growth=case.growth)

    got = {letter: getattr(check, letter).verdict for letter in LETTERS}
    assert got == {letter: VERDICT[v] for letter, v in zip(LETTERS, case.expect, strict=True)}, {
        letter: getattr(check, letter).reason for letter in LETTERS
    }
    assert check.overall == case.overall
    if case.reason is not None:
        letter, phrase = case.reason
        assert phrase in getattr(check, letter).reason


def test_every_reason_is_a_sentence_fragment_for_people():
    check = check_smart(GOOD, linked_kpis=0, goal_status=None, today=TODAY)
    for letter in LETTERS:
        reason = getattr(check, letter).reason
        assert reason and reason == reason.strip() and "None" not in reason, (letter, reason)
