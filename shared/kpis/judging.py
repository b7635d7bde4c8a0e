"""Where a KPI target's status is decided: one pure function, `judge`, for the alerting job and every read.

The evaluation job (shared/alerts/evaluate.py) judges each target from its locked state and acts on the transition;
the reads (scorecard, objective progress: shared/alerts/standing.py) show the job's record or, where it has none
yet, call the same function. So the window, the no-data policy, pacing, thresholds and the state machine's
hysteresis are applied in one place, and a status shown anywhere is the one alerts act on. Pure, no I/O.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from shared.kpis.evaluation import Evaluation, Status, Thresholds, resolve_thresholds
from shared.kpis.formula import Formula
from shared.kpis.models import Kpi, KpiTarget, NoDataPolicy
from shared.kpis.state_machine import Decision, TargetState, decide
from shared.money.fx import MissingRate
from shared.periods import elapsed_fraction


def target_window(target: KpiTarget, as_of: date) -> tuple[date, date]:
    """The days a target is judged on as of a day: from its start to that day, within its period (its first day
    only, before it starts)."""
    return target.start_date, max(target.start_date, min(as_of, target.end_date))


def thresholds_of(kpi: Kpi, target: KpiTarget) -> Thresholds:
    """The target's levels as absolute values for the KPI's direction."""
    return resolve_thresholds(
        kpi.direction,
        target=target.target_value,
        target_high=target.target_high,
        warning=target.warning,
        critical=target.critical,
        warning_high=target.warning_high,
        critical_high=target.critical_high,
        mode=target.threshold_mode,
    )


def with_zeros(aggregates: Mapping[str, Decimal | None]) -> dict[str, Decimal | None]:
    """The metrics with no data counted as 0 (a target's no-data policy `zero`), before the formula runs: the
    formula still decides, so spend ÷ conversions with no conversions has no value rather than 0."""
    return {key: Decimal(0) if value is None else value for key, value in aggregates.items()}


@dataclass(frozen=True)
class Judgement:
    """One target judged as of a day: the window read, the state machine's decision and what it means."""

    start: date
    end: date  # the window's last day (the day judged as of, within the period)
    zero_filled: bool  # the value counted some metric without data as 0 (policy `zero`)
    decision: Decision

    @property
    def evaluation(self) -> Evaluation:
        return self.decision.evaluation

    @property
    def status(self) -> Status:
        """The status shown and acted on: the confirmed one after this evaluation, or what was observed while none
        is confirmed yet (a first breach waiting for `pending_evaluations`)."""
        return self.decision.state.status or self.decision.observed


def judge(
    kpi: Kpi,
    target: KpiTarget,
    formula: Formula,
    aggregates: Mapping[str, Decimal | None],
    *,
    as_of: date,
    previous: TargetState,
    now: datetime,
    missing: MissingRate | None = None,
) -> Judgement:
    """Judge a target from its metrics aggregated over `target_window(target, as_of)` and its previous state.
    `missing`: some day's money in the window cannot be converted (no exchange rate), so there is no value — no
    data with that reason, whatever the no-data policy (a zero would silently drop an amount)."""
    start, end = target_window(target, as_of)
    value, zero_filled = (None if missing else formula.evaluate(aggregates)), False
    if target.no_data_policy == NoDataPolicy.zero and missing is None:
        # Metrics without data count as 0, before the formula; the reason says so when that is what gave a value.
        filled = formula.evaluate(with_zeros(aggregates))
        value, zero_filled = filled, value is None and filled is not None
    decision = decide(
        previous,
        value=value,
        direction=kpi.direction,
        thresholds=thresholds_of(kpi, target),
        pacing=target.pacing,
        elapsed=elapsed_fraction(target.start_date, target.end_date, as_of),  # 0 before the period, 1 after it
        pending_evaluations=target.pending_evaluations,
        recovery_margin_pct=target.recovery_margin_pct,
        no_data_policy=target.no_data_policy,
        zero_filled=zero_filled,
        name=kpi.name,
        now=now,
    )
    if missing is not None:  # the evaluation, and an alert it opens or moves, say which rate is missing
        reason = f"{kpi.name} cannot be computed: {missing}"
        transition = decision.transition
        decision = replace(
            decision,
            evaluation=replace(decision.evaluation, reason=reason),
            transition=None if transition is None else replace(transition, reason=reason),
        )
    return Judgement(start, end, zero_filled, decision)
