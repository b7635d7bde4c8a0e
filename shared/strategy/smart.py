"""The SMART check of a marketing objective: one verdict per letter, each a pure function of its inputs.

No I/O: the caller passes what the rules need (the objective's fields, how many KPIs are linked to it,
its business goal's status, today's date). docs/domains/strategy.md lists the rules as a table.
"""

import enum
import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from shared.numbers import plain_number
from shared.strategy.models import GoalStatus, ObjectiveStatus

MIN_WORDS = 4

# Verbs (and comparatives) that say which way, but not what or how much.
VAGUE_WORD = re.compile(
    r"^(improv(e|es|ed|ing)|increas(e|es|ed|ing)|boost(s|ed|ing)?|enhanc(e|es|ed|ing)"
    r"|optimi[sz](e|es|ed|ing)|grow(s|n|ing)?|grew|better|more)$"
)
WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")

# An objective past its deadline is only late while it is still being worked on.
OPEN_STATUSES = frozenset({ObjectiveStatus.draft, ObjectiveStatus.active})


class Verdict(enum.StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    WARN = "warn"
    FAIL = "fail"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.FAIL: 2}


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class GrowthBands:
    """How much relative change a year we call realistic (pass) or a stretch (warn); more is a fail.

    The hook for judging by history: a later issue builds these from the linked KPI's own past
    changes (and says so in `basis`) instead of this fixed typical range.
    """

    pass_up_to: Decimal = Decimal("0.5")
    warn_up_to: Decimal = Decimal("2")
    basis: str = "typical"


TYPICAL_GROWTH = GrowthBands()


@dataclass(frozen=True)
class ObjectiveFacts:
    """What the SMART rules read of an objective."""

    statement: str
    status: ObjectiveStatus
    created_on: date
    unit: str | None = None
    baseline_value: Decimal | None = None
    target_value: Decimal | None = None
    start_date: date | None = None
    deadline: date | None = None


@dataclass(frozen=True)
class SmartCheck:
    specific: Check
    measurable: Check
    achievable: Check
    relevant: Check
    time_bound: Check

    @property
    def overall(self) -> Verdict:
        """The worst of the five letters."""
        letters = (self.specific, self.measurable, self.achievable, self.relevant, self.time_bound)
        return max((c.verdict for c in letters), key=lambda v: v.severity)


def check_smart(
    objective: ObjectiveFacts,
    *,
    linked_kpis: int,
    goal_status: GoalStatus | None,
    today: date,
    growth: GrowthBands = TYPICAL_GROWTH,
) -> SmartCheck:
    """All five letters for one objective. `goal_status` is None when it serves no business goal."""
    o = objective
    return SmartCheck(
        specific=check_specific(o.statement, target_value=o.target_value),
        measurable=check_measurable(target_value=o.target_value, unit=o.unit, linked_kpis=linked_kpis),
        achievable=check_achievable(
            baseline=o.baseline_value,
            target=o.target_value,
            start=o.start_date or o.created_on,
            deadline=o.deadline,
            growth=growth,
        ),
        relevant=check_relevant(goal_status),
        time_bound=check_time_bound(start=o.start_date, deadline=o.deadline, status=o.status, today=today),
    )


def check_specific(statement: str, *, target_value: Decimal | None) -> Check:
    """At least 4 words; a vague verb needs a figure (in the statement or as the target) to say how much."""
    words = WORD.findall(statement.lower())
    if len(words) < MIN_WORDS:
        return Check(
            Verdict.FAIL,
            f"statement has {len(words)} word{'s' if len(words) != 1 else ''}; say what changes, for whom "
            f"and how (at least {MIN_WORDS} words)",
        )
    vague = sorted({w for w in words if VAGUE_WORD.match(w)})
    has_figure = any(ch.isdigit() for ch in statement)
    if vague and not has_figure and target_value is None:
        return Check(
            Verdict.WARN,
            f"uses vague wording ({', '.join(vague)}) with no figure in the statement and no target value",
        )
    if vague:
        how_much = "the target value" if target_value is not None else "a figure in the statement"
        return Check(Verdict.PASS, f"{len(words)} words; {how_much} says how much")
    return Check(Verdict.PASS, f"{len(words)} words naming a concrete outcome")


def check_measurable(*, target_value: Decimal | None, unit: str | None, linked_kpis: int) -> Check:
    """A target value measured by a linked KPI; a target with no KPI yet is a warning."""
    if target_value is None:
        if linked_kpis:
            return Check(Verdict.FAIL, f"{_kpis(linked_kpis)} linked but no target value")
        return Check(Verdict.FAIL, "no KPI linked and no numeric target")
    target = _number(target_value, unit)
    if linked_kpis:
        return Check(Verdict.PASS, f"target {target}, measured by {_kpis(linked_kpis)}")
    if not unit:
        return Check(Verdict.WARN, f"target {target} has no unit, and no KPI is linked yet to measure it")
    return Check(Verdict.WARN, f"target {target} set, but no KPI is linked yet to measure it")


def check_achievable(
    *,
    baseline: Decimal | None,
    target: Decimal | None,
    start: date,
    deadline: date | None,
    growth: GrowthBands = TYPICAL_GROWTH,
) -> Check:
    """The change from baseline to target, annualised over start→deadline, against the growth bands."""
    if baseline is None or target is None:
        missing = " and ".join(n for n, v in (("baseline", baseline), ("target", target)) if v is None)
        return Check(Verdict.WARN, f"cannot judge: {missing} not set")
    if deadline is None:
        return Check(Verdict.WARN, "cannot judge: no deadline")
    days = (deadline - start).days
    if days < 0:
        return Check(Verdict.WARN, f"cannot judge: deadline {deadline} is before the start {start}")
    if baseline == 0:
        return Check(Verdict.WARN, "cannot judge: a baseline of 0 makes the relative change undefined")
    change = (target - baseline) / abs(baseline)
    years = Decimal(max(days, 1)) / Decimal(365)
    per_year = abs(change) / years
    needs = f"needs {'+' if change >= 0 else '-'}{_pct(abs(change))} vs baseline in {_duration(days)}"
    if change != 0 and days != 365:
        needs += f" ({_pct(per_year)}/year)"
    if per_year <= growth.pass_up_to:
        return Check(Verdict.PASS, f"{needs}, within the {_pct(growth.pass_up_to)}/year we call {growth.basis}")
    if per_year <= growth.warn_up_to:
        return Check(
            Verdict.WARN,
            f"{needs}, more than the {_pct(growth.pass_up_to)}/year we call {growth.basis} "
            f"(a stretch up to {_pct(growth.warn_up_to)}/year)",
        )
    return Check(Verdict.FAIL, f"{needs}, beyond the {_pct(growth.warn_up_to)}/year we call a stretch")


def check_relevant(goal_status: GoalStatus | None) -> Check:
    """It serves a business goal that is still active."""
    if goal_status is None:
        return Check(Verdict.FAIL, "not linked to a business goal")
    if goal_status != GoalStatus.active:
        return Check(Verdict.WARN, f"its business goal is {goal_status.value}, no longer active")
    return Check(Verdict.PASS, "serves an active business goal")


def check_time_bound(*, start: date | None, deadline: date | None, status: ObjectiveStatus, today: date) -> Check:
    """A deadline, after the start, and not already passed while the objective is still open."""
    if deadline is None:
        return Check(Verdict.FAIL, "no deadline")
    if start is not None and deadline < start:
        return Check(Verdict.FAIL, f"deadline {deadline} is before the start {start}")
    if deadline < today and status in OPEN_STATUSES:
        return Check(
            Verdict.WARN,
            f"deadline {deadline} passed {(today - deadline).days} days ago and it is still {status.value}",
        )
    return Check(Verdict.PASS, f"deadline {deadline}")


def _pct(fraction: Decimal) -> str:
    """0.5 → "50%"; a non-zero share that rounds to 0 stays visible."""
    pct = fraction * 100
    rounded = pct.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if rounded == 0 and pct != 0:
        return "<1%"
    return f"{rounded}%"


def _duration(days: int) -> str:
    if days < 60:
        return f"{days} day{'s' if days != 1 else ''}"
    months = round(days / (365 / 12))
    return f"{months} months"


def _number(value: Decimal, unit: str | None) -> str:
    text = plain_number(value)
    return f"{text} {unit}" if unit else text


def _kpis(n: int) -> str:
    return f"{n} KPI{'s' if n != 1 else ''}"
